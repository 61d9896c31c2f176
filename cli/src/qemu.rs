//! `oasis qemu IMAGE [-- ARGS]`: boots an image on QEMU's `microvm`
//! through its PVH entry (the same image hvt and spt run), with the
//! console on the serial port, and exits with the guest's status.
//!
//! The guest's last console line, `oasis: exit STATUS`, carries the status
//! beside QEMU's `isa-debug-exit` code (see `oasis_targets::qemu::end`);
//! this runner reads the console through a pipe to see it, passes the
//! guest's output on to stdout, and turns the platform's own lines
//! (`oasis: guest aborted: …`) into its one-line messages on stderr, as the
//! tenders print theirs.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oasis_abi::exit;
use oasis_targets::qemu::{self, Accel, QemuEnd, QemuRun};
use oasis_tender::config::{parse_duration, parse_mem};

/// `oasis qemu`'s description.
pub const ABOUT: &str = "Boot IMAGE on QEMU (-M microvm, TCG) through its PVH entry; no devices yet";

/// Its help's epilogue.
pub const AFTER_HELP: &str = "\
The image is the one hvt and spt run: it carries a PVH entry note, which
QEMU's -kernel boots. The console is the serial port (the guest's output
on stdout; the guest's own stop messages on stderr). Boot arguments reach
the guest on the kernel command line (-append); an argument holding a
double quote and a space cannot. oasis.seed=HEX (64 hex digits) seeds a
guest whose CPU has no RDRAND/RDSEED. Images that declare devices are
refused: QEMU's virtio devices are not supported yet.

Exit status: the guest's own; 255 when it aborted or panicked, 254 when it
was stopped (a CPU fault, --timeout, a reset without a status), 253 when it
could not be started (QEMU missing or failing, a bad image).";

/// How QEMU runs the guest's CPU.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum AccelArg {
    /// Software emulation: the default, and the fastest where KVM is
    /// emulated
    Tcg,
    /// KVM, with -cpu host,-arch-capabilities
    Kvm,
}

/// `oasis qemu`'s options.
#[derive(clap::Args, Debug)]
pub struct QemuArgs {
    /// The image (built for hvt/spt: the same file)
    pub image: PathBuf,
    /// Guest memory: whole MiB, 2M to 4G
    #[arg(long, value_name = "SIZE", default_value = "32M", value_parser = parse_mem)]
    pub mem: u64,
    /// Stop the guest (kill QEMU) after this long: 500ms, 10s, 2m
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The QEMU to run [default: qemu-system-x86_64 on PATH]
    #[arg(long, value_name = "PATH")]
    pub vmm: Option<PathBuf>,
    /// How QEMU runs the guest
    #[arg(long, value_enum, default_value = "tcg")]
    pub accel: AccelArg,
    /// The unikernel's boot arguments
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<OsString>,
}

fn say(what: std::fmt::Arguments<'_>) {
    eprintln!("oasis-qemu: {what}");
}

fn refuse(what: std::fmt::Arguments<'_>) -> u8 {
    say(format_args!("refused: {what}"));
    exit::REFUSED
}

/// Runs `oasis qemu`: `Err` carries a non-zero exit status.
pub fn main(a: QemuArgs) -> Result<(), u8> {
    oasis_sys::ignore_sigpipe();
    if !a.mem.is_multiple_of(1 << 20) {
        return Err(refuse(format_args!("--mem: QEMU takes whole MiB")));
    }
    let vmm = qemu::find(a.vmm.as_deref()).map_err(|e| refuse(format_args!("{e}")))?;
    check_image(&a.image).map_err(|e| refuse(format_args!("{}: {e}", a.image.display())))?;
    let append = qemu::append_line(&a.args).map_err(|e| refuse(format_args!("{e}")))?;
    let accel = match a.accel {
        AccelArg::Tcg => Accel::Tcg,
        AccelArg::Kvm => Accel::Kvm,
    };
    let run = QemuRun { vmm: &vmm, image: &a.image, mem_mib: a.mem >> 20, accel, append: &append };
    let argv = run.argv();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    oasis_sys::child_dies_with_parent(&mut cmd);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| refuse(format_args!("cannot run {}: {e}", vmm.display())))?;
    let console = child.stdout.take().ok_or(exit::REFUSED)?;
    let reader = std::thread::spawn(move || pass_console(console));
    let mut timed_out = false;
    let status = match a.timeout {
        None => child.wait(),
        Some(limit) => loop {
            match child.try_wait() {
                Ok(Some(s)) => break Ok(s),
                Ok(None) if started.elapsed() >= limit => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => break Err(e),
            }
        },
    };
    let last_status = reader.join().unwrap_or(None);
    let status = status.map_err(|e| refuse(format_args!("waiting for QEMU: {e}")))?;
    if timed_out {
        let ms = a.timeout.unwrap_or_default().as_millis();
        say(format_args!("stopped: --timeout of {ms} ms ran out"));
        return Err(exit::STOPPED);
    }
    let Some(code) = status.code() else {
        use std::os::unix::process::ExitStatusExt;
        say(format_args!("stopped: QEMU was killed by signal {}", status.signal().unwrap_or(0)));
        return Err(exit::STOPPED);
    };
    match qemu::end(code, last_status) {
        QemuEnd::Guest(0) => Ok(()),
        QemuEnd::Guest(s) => Err(s),
        QemuEnd::Reset => {
            say(format_args!("stopped: the guest reset the machine without an exit status (a triple fault?)"));
            Err(exit::STOPPED)
        }
        QemuEnd::Vmm(c) => {
            say(format_args!("QEMU failed (exit code {c}; its message is above): the guest did not run to its end"));
            Err(exit::REFUSED)
        }
    }
}

/// Refuses what QEMU cannot boot as an Oasis guest: not an Oasis image,
/// no PVH note (built before there was one), or devices declared.
fn check_image(path: &std::path::Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let image = oasis_tender::Image::parse(&bytes).map_err(|e| e.to_string())?;
    if !has_pvh_note(&bytes) {
        return Err("no PVH entry note (Xen PHYS32_ENTRY): rebuild it with this Oasis".into());
    }
    if !image.manifest.devices.is_empty() {
        let names: Vec<String> =
            image.manifest.devices.iter().map(|d| format!("{:?} '{}'", d.kind, d.name).to_lowercase()).collect();
        return Err(format!(
            "it declares devices ({}); oasis qemu boots images without devices (virtio is not supported yet)",
            names.join(", ")
        ));
    }
    Ok(())
}

/// Whether the ELF in `bytes` has a Xen `PHYS32_ENTRY` note (type 18).
fn has_pvh_note(bytes: &[u8]) -> bool {
    let Ok((_, phdrs)) = oasis_tender::image::headers(bytes) else { return false };
    let u32_at = |d: &[u8], at: usize| d.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    phdrs.iter().filter(|p| p.p_type == elf::abi::PT_NOTE).any(|p| {
        let Some(data) = bytes.get(p.p_offset as usize..(p.p_offset + p.p_filesz) as usize) else { return false };
        let mut at = 0;
        while let (Some(namesz), Some(descsz), Some(kind)) =
            (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 8))
        {
            let name = data.get(at + 12..at + 12 + namesz as usize);
            if kind == 18 && name == Some(b"Xen\0") {
                return true;
            }
            at += 12 + (namesz as usize).next_multiple_of(4) + (descsz as usize).next_multiple_of(4);
        }
        false
    })
}

/// Copies the guest's console to stdout until QEMU closes it, the
/// platform's lines to stderr; returns the status of the guest's
/// `oasis: exit` line, if it wrote one.
fn pass_console(mut console: impl Read) -> Option<u8> {
    let mut filter = ConsoleFilter::default();
    let mut buf = [0u8; 4096];
    loop {
        match console.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let _ = filter.feed(&buf[..n], &mut io::stdout().lock(), &mut io::stderr().lock());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = filter.finish(&mut io::stdout().lock());
    filter.last_status
}

/// The start of the lines the guest platform writes itself.
const MARK: &[u8] = b"oasis: ";

/// Splits the guest's console into its output and the platform's own
/// lines (`oasis: …` at the start of a line): those go to stderr as
/// `oasis-qemu: …`, and `oasis: exit N` is kept as the status. Bytes pass
/// on at once, except a line start that may become such a line.
#[derive(Default)]
struct ConsoleFilter {
    pending: Vec<u8>,
    mid_line: bool,
    last_status: Option<u8>,
}

impl ConsoleFilter {
    fn feed(&mut self, data: &[u8], out: &mut impl Write, err: &mut impl Write) -> io::Result<()> {
        self.pending.extend_from_slice(data);
        while !self.pending.is_empty() {
            let newline = self.pending.iter().position(|&b| b == b'\n');
            if self.mid_line {
                let n = newline.map_or(self.pending.len(), |i| i + 1);
                out.write_all(&self.pending[..n])?;
                self.pending.drain(..n);
                self.mid_line = newline.is_none();
                continue;
            }
            let n = self.pending.len().min(MARK.len());
            if self.pending[..n] != MARK[..n] || newline.is_some_and(|i| i < MARK.len()) {
                self.mid_line = true;
                continue;
            }
            let Some(end) = newline else { break };
            let line = String::from_utf8_lossy(&self.pending[MARK.len()..end]).into_owned();
            self.pending.drain(..=end);
            match line.strip_prefix("exit ").and_then(|s| s.trim_end().parse::<u8>().ok()) {
                Some(status) => self.last_status = Some(status),
                None => writeln!(err, "oasis-qemu: {}", line.trim_end())?,
            }
        }
        out.flush()
    }

    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.pending)?;
        self.pending.clear();
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (String, String, Option<u8>) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut f = ConsoleFilter::default();
        for c in chunks {
            f.feed(c, &mut out, &mut err).unwrap();
        }
        f.finish(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap(), f.last_status)
    }

    #[test]
    fn output_passes_and_platform_lines_are_taken_out() {
        let (out, err, status) = run(&[b"Hello\nwor", b"ld\noas", b"is: guest aborted: boom\noasis: exit 255\n"]);
        assert_eq!(out, "Hello\nworld\n");
        assert_eq!(err, "oasis-qemu: guest aborted: boom\n");
        assert_eq!(status, Some(255));
    }

    #[test]
    fn look_alikes_pass_whole() {
        let (out, err, status) = run(&[b"oasi", b"s rocks\nx oasis: exit 3\noas\n", b"oasis"]);
        assert_eq!(out, "oasis rocks\nx oasis: exit 3\noas\noasis");
        assert_eq!((err.as_str(), status), ("", None));
    }

    #[test]
    fn partial_lines_pass_at_once() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut f = ConsoleFilter::default();
        f.feed(b"prompt> ", &mut out, &mut err).unwrap();
        assert_eq!(out, b"prompt> ");
        f.feed(b"oasis: ", &mut out, &mut err).unwrap();
        assert_eq!(out, b"prompt> oasis: ", "mid-line, not a platform line");
    }

    #[test]
    fn finds_the_pvh_note() {
        assert!(!has_pvh_note(b"not an elf"));
    }
}
