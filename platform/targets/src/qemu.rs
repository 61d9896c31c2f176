//! QEMU as a launcher: finding `qemu-system-x86_64`, the command line that
//! boots an image through its PVH entry on `-M microvm`, and reading the
//! guest's exit status back from QEMU's.
//!
//! The guest side is `oasis-platform-tender`'s PVH machine: console on the
//! 16550 UART (QEMU's `-serial stdio`), exit through `isa-debug-exit` at
//! port 0x501, which ends QEMU with `(status << 1) | 1`. Not a row of the
//! table yet (`oasis qemu IMAGE` runs it; `--target qemu` comes with
//! virtio devices), but the row will use what is here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use oasis_abi::cmdline::{Quoting, quoting};

/// The QEMU binary looked for on `PATH`.
pub const QEMU: &str = "qemu-system-x86_64";

/// Where Debian has it.
pub const QEMU_PACKAGE: &str = "qemu-system-x86";

/// The I/O port of QEMU's `isa-debug-exit` device, as the guest expects.
pub const DEBUG_EXIT_PORT: u16 = 0x501;

/// How QEMU runs the guest's CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Software emulation (TCG): the fastest here, where KVM itself is
    /// emulated.
    Tcg,
    /// KVM (`-cpu host,-arch-capabilities`, which this machine's emulated
    /// KVM needs).
    Kvm,
}

/// Finds QEMU: `explicit` when given (it must exist), else
/// `qemu-system-x86_64` on `PATH`; else says in one line what to do.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() { Ok(p.to_path_buf()) } else { Err(format!("--vmm {}: no such file", p.display())) };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(QEMU))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{QEMU} is not on PATH (apt-get install {QEMU_PACKAGE}, or give --vmm PATH)"))
}

/// The kernel command line carrying `args`, quoted so the guest splits it
/// back into the same arguments (`oasis_abi::cmdline`); the first argument
/// that cannot be written is the error.
pub fn append_line(args: &[OsString]) -> Result<String, String> {
    let mut line = String::new();
    for a in args {
        let s = a.to_str().ok_or_else(|| format!("argument {a:?} is not UTF-8"))?;
        if !line.is_empty() {
            line.push(' ');
        }
        match quoting(s) {
            Quoting::Plain => line.push_str(s),
            Quoting::Quoted => {
                line.push('"');
                line.push_str(s);
                line.push('"');
            }
            Quoting::Impossible => {
                return Err(format!("argument {s:?}: a kernel command line cannot carry a double quote in it"));
            }
        }
    }
    Ok(line)
}

/// One boot of an image on QEMU.
#[derive(Debug, Clone)]
pub struct QemuRun<'a> {
    /// The QEMU binary.
    pub vmm: &'a Path,
    /// The image.
    pub image: &'a Path,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// TCG or KVM.
    pub accel: Accel,
    /// The kernel command line (from [`append_line`]).
    pub append: &'a str,
}

impl QemuRun<'_> {
    /// QEMU's argument vector: a `microvm` without ACPI, firmware options or
    /// default devices, the serial port on stdio, `isa-debug-exit` for the
    /// status, and no reboot (a guest reset or triple fault ends QEMU).
    pub fn argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![self.vmm.as_os_str().to_owned()];
        let accel: &[&str] = match self.accel {
            Accel::Tcg => &["-accel", "tcg", "-cpu", "max"],
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host,-arch-capabilities"],
        };
        v.extend(["-M", "microvm,acpi=off"].map(OsString::from));
        v.extend(accel.iter().map(OsString::from));
        v.extend(["-m".into(), format!("{}M", self.mem_mib).into()]);
        v.extend(
            ["-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot", "-device"]
                .map(OsString::from),
        );
        v.push(format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=2").into());
        v.extend(["-kernel".into(), self.image.as_os_str().to_owned()]);
        if !self.append.is_empty() {
            v.extend(["-append".into(), self.append.into()]);
        }
        v
    }
}

/// How a QEMU run ended, from QEMU's exit code and the guest's last
/// console line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuEnd {
    /// The guest exited with this status.
    Guest(u8),
    /// The guest reset the machine (a triple fault) without saying its
    /// status.
    Reset,
    /// QEMU failed by itself (its own exit code).
    Vmm(i32),
}

/// Reads a run's end: QEMU's exit `code` and `last_status`, the status of
/// the guest's last console line `oasis: exit N` if it wrote one.
///
/// The guest writes its status on a last line before it leaves. An odd
/// code is the debug exit: `(status << 1) | 1`, of which the process exit
/// code keeps 8 bits, so only the status's low 7 bits; the line supplies
/// the rest. Code 1 without the line is QEMU failing by itself (it exits 1
/// on its own errors too). Code 0 is QEMU ending on a reset
/// (`-no-reboot`): the guest's line says why, if it wrote one
/// (Firecracker's way; QEMU without the debug device). Anything else is
/// QEMU's own failure.
pub fn end(code: i32, last_status: Option<u8>) -> QemuEnd {
    if code & 1 == 1 && (1..=255).contains(&code) {
        let low = ((code - 1) / 2) as u8;
        return match last_status {
            Some(s) if s & 0x7f == low => QemuEnd::Guest(s),
            _ if code == 1 => QemuEnd::Vmm(1),
            _ => QemuEnd::Guest(low),
        };
    }
    match (code, last_status) {
        (0, Some(s)) => QemuEnd::Guest(s),
        (0, None) => QemuEnd::Reset,
        _ => QemuEnd::Vmm(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let run = QemuRun {
            vmm: Path::new("/usr/bin/qemu-system-x86_64"),
            image: Path::new("/img/hello"),
            mem_mib: 32,
            accel: Accel::Tcg,
            append: "--ticks 1",
        };
        let line = run.argv().iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        assert_eq!(
            line,
            "/usr/bin/qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 32M -nodefaults -no-user-config \
             -nographic -serial stdio -no-reboot -device isa-debug-exit,iobase=0x501,iosize=2 -kernel /img/hello \
             -append --ticks 1"
        );
        let kvm = QemuRun { accel: Accel::Kvm, append: "", ..run };
        let argv = kvm.argv();
        assert!(argv.windows(2).any(|w| w[0] == "-cpu" && w[1] == "host,-arch-capabilities"));
        assert!(!argv.iter().any(|a| a == "-append"));
    }

    #[test]
    fn arguments_are_quoted_or_refused() {
        let args: Vec<OsString> = ["--name", "two words", "", "x"].map(OsString::from).to_vec();
        assert_eq!(append_line(&args).unwrap(), "--name \"two words\" \"\" x");
        assert!(append_line(&["say \"hi\"".into()]).is_err());
    }

    #[test]
    fn exit_codes_map_back_to_statuses() {
        assert_eq!(end(1, Some(0)), QemuEnd::Guest(0));
        assert_eq!(end(1, None), QemuEnd::Vmm(1));
        assert_eq!(end(85, None), QemuEnd::Guest(42));
        assert_eq!(end(255, None), QemuEnd::Guest(127));
        assert_eq!(end(255, Some(255)), QemuEnd::Guest(255));
        assert_eq!(end(253, Some(254)), QemuEnd::Guest(254));
        // A line that does not match the code is not believed.
        assert_eq!(end(85, Some(200)), QemuEnd::Guest(42));
        assert_eq!(end(0, Some(7)), QemuEnd::Guest(7));
        assert_eq!(end(0, None), QemuEnd::Reset);
        assert_eq!(end(2, None), QemuEnd::Vmm(2));
        assert_eq!(end(-1, None), QemuEnd::Vmm(-1));
    }
}
