//! Why a guest stopped: the typed value a tender's run loop returns, with
//! the one-line message and exit status for each cause.
//!
//! Built without allocating, because on spt it is made inside the seccomp
//! sandbox, where `brk` and `mmap` are forbidden.

use std::fmt;

use oasis_abi::{exit, nr};

/// Longest guest abort message kept.
pub const ABORT_MESSAGE_KEEP: usize = 512;

/// How a guest run ended.
#[allow(clippy::large_enum_variant)] // built without allocating; see `hypercall::Outcome`
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest called `EXIT`.
    Exit(u8),
    /// The guest called `ABORT` (a panic, out of memory).
    Abort(AbortMessage),
    /// A CPU fault in the guest.
    Fault(Fault),
    /// The guest broke the hypercall contract.
    Violation(Violation),
    /// spt: the guest made a system call the sandbox forbids.
    ForbiddenSyscall {
        /// The system call number.
        number: i64,
        /// Where it was made.
        rip: u64,
    },
    /// The supervisor asked the run to end (`--timeout`, a signal) and,
    /// with `--stats`, for the counts first; its own line says why.
    Asked,
    /// The tender itself failed while the guest ran.
    Internal(&'static str),
}

/// A guest's abort message: at most [`ABORT_MESSAGE_KEEP`] bytes, shown
/// with control characters escaped so a hostile guest cannot forge lines
/// or drive the terminal.
#[derive(Clone, PartialEq, Eq)]
pub struct AbortMessage {
    bytes: [u8; ABORT_MESSAGE_KEEP],
    len: usize,
}

impl AbortMessage {
    /// A message from raw guest bytes (cut to fit).
    pub fn new(raw: &[u8]) -> AbortMessage {
        let len = raw.len().min(ABORT_MESSAGE_KEEP);
        let mut bytes = [0; ABORT_MESSAGE_KEEP];
        bytes[..len].copy_from_slice(&raw[..len]);
        AbortMessage { bytes, len }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for AbortMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl fmt::Display for AbortMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// What kind of CPU fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// An x86 exception vector (hvt, reported by the guest's handlers).
    Exception {
        /// The vector.
        vector: u8,
        /// The CPU's error code.
        error_code: u64,
    },
    /// A host signal (spt).
    Signal(i32),
    /// hvt: the vCPU shut down (triple fault).
    TripleFault,
    /// hvt: the guest executed `hlt`. No interrupt ever comes (the tender
    /// delivers none), so it would sleep forever either way; the flag
    /// says whether it thought one might.
    Halt {
        /// RFLAGS.IF was set.
        interrupts_on: bool,
    },
    /// hvt: KVM could not emulate an instruction.
    KvmInternal(u32),
    /// hvt: the guest touched memory that is not RAM.
    Mmio,
}

/// A CPU fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What happened.
    pub kind: FaultKind,
    /// Instruction pointer at the fault.
    pub rip: u64,
    /// Faulting data address, where known.
    pub address: Option<u64>,
}

/// A broken hypercall contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// No call has this number.
    UnknownCall {
        /// The number.
        number: u64,
    },
    /// hvt: an I/O port access that is no hypercall (another port, an
    /// `in`, or a width other than 32 bits).
    UnknownPort {
        /// The port.
        port: u16,
    },
    /// The argument struct is misaligned, below `GUEST_MIN_ADDR` or past
    /// the end of guest memory.
    BadArgument {
        /// The call.
        call: u64,
        /// The address given.
        addr: u64,
    },
    /// A buffer not wholly inside guest memory.
    BadBuffer {
        /// The call.
        call: u64,
        /// Its address.
        addr: u64,
        /// Its length.
        len: u64,
    },
    /// A console write longer than `CONSOLE_WRITE_MAX`.
    ConsoleTooLong {
        /// The length asked for.
        len: u64,
    },
    /// An exit status above 255.
    BadExitStatus {
        /// The status asked for.
        status: u64,
    },
    /// A handle that is no declared device.
    UndeclaredHandle {
        /// The call.
        call: u64,
        /// The handle.
        handle: u64,
    },
    /// A handle of the wrong kind of device for the call.
    WrongDeviceKind {
        /// The call.
        call: u64,
        /// The handle.
        handle: u64,
    },
    /// A length that breaks the call's rules (frame too long, read buffer
    /// too short, block I/O not whole blocks or past the end).
    BadLength {
        /// The call.
        call: u64,
        /// The offending value.
        value: u64,
        /// The rule.
        rule: &'static str,
    },
    /// A frame on an offloading device whose `virtio_net_hdr` asks the
    /// host for something this tender does not pass on.
    BadOffloadHeader {
        /// The call.
        call: u64,
        /// What is wrong with it.
        why: &'static str,
    },
}

struct CallName(u64);

impl fmt::Display for CallName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match nr::name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "call {}", self.0),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Violation::UnknownCall { number } => write!(f, "unknown hypercall {number}"),
            Violation::UnknownPort { port } => {
                write!(f, "I/O port {port:#x} is not a hypercall (use 32-bit out to 0x500 + number)")
            }
            Violation::BadArgument { call, addr } => {
                write!(
                    f,
                    "{}: argument address {addr:#x} is misaligned or outside the guest's writable memory",
                    CallName(call)
                )
            }
            Violation::BadBuffer { call, addr, len } => {
                write!(
                    f,
                    "{}: buffer {addr:#x} of {len} bytes is outside the guest memory this call may use",
                    CallName(call)
                )
            }
            Violation::ConsoleTooLong { len } => {
                write!(f, "console-write: {len} bytes in one call (at most {})", oasis_abi::CONSOLE_WRITE_MAX)
            }
            Violation::BadExitStatus { status } => write!(f, "exit: status {status} is above 255"),
            Violation::UndeclaredHandle { call, handle } => {
                write!(f, "{}: handle {handle} is not a declared device", CallName(call))
            }
            Violation::WrongDeviceKind { call, handle } => {
                write!(f, "{}: handle {handle} is a device of another kind", CallName(call))
            }
            Violation::BadLength { call, value, rule } => {
                write!(f, "{}: {value} breaks the rule: {rule}", CallName(call))
            }
            Violation::BadOffloadHeader { call, why } => {
                write!(f, "{}: offload header refused: {why}", CallName(call))
            }
        }
    }
}

fn vector_name(vector: u8) -> &'static str {
    match vector {
        0 => "divide error (#DE)",
        1 => "debug (#DB)",
        2 => "non-maskable interrupt",
        3 => "breakpoint (#BP)",
        4 => "overflow (#OF)",
        5 => "bound range (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack fault (#SS)",
        13 => "general protection (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 floating point (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD floating point (#XM)",
        _ => "exception",
    }
}

/// Names of the signals a guest fault raises on spt.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "page fault (SIGSEGV)",
        libc::SIGBUS => "bus error (SIGBUS)",
        libc::SIGILL => "invalid opcode (SIGILL)",
        libc::SIGFPE => "arithmetic fault (SIGFPE)",
        libc::SIGTRAP => "breakpoint (SIGTRAP)",
        libc::SIGSYS => "a forbidden system call (SIGSYS)",
        libc::SIGKILL => "SIGKILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGXCPU => "CPU time limit (SIGXCPU)",
        libc::SIGXFSZ => "file size limit (SIGXFSZ)",
        _ => "a signal",
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FaultKind::Exception { vector, error_code } => {
                write!(f, "{} (vector {vector}, error code {error_code:#x})", vector_name(vector))?
            }
            FaultKind::Signal(s) => f.write_str(signal_name(s))?,
            FaultKind::TripleFault => f.write_str("triple fault (the vCPU shut down)")?,
            FaultKind::Halt { interrupts_on: false } => f.write_str("halted with interrupts off")?,
            FaultKind::Halt { interrupts_on: true } => {
                f.write_str("halted waiting for an interrupt, which the tender never sends")?
            }
            FaultKind::KvmInternal(sub) => write!(f, "KVM internal error, suberror {sub}")?,
            FaultKind::Mmio => f.write_str("access to memory that is not RAM")?,
        }
        if let Some(a) = self.address {
            write!(f, " at address {a:#x}")?;
        }
        write!(f, ", rip {:#x}", self.rip)
    }
}

/// Names of system calls a guest might try, for the forbidden-call message.
pub fn syscall_name(number: i64) -> &'static str {
    match number {
        0 => "read",
        1 => "write",
        2 => "open",
        3 => "close",
        9 => "mmap",
        10 => "mprotect",
        11 => "munmap",
        12 => "brk",
        13 => "rt_sigaction",
        14 => "rt_sigprocmask",
        7 => "poll",
        16 => "ioctl",
        17 => "pread64",
        18 => "pwrite64",
        19 => "readv",
        20 => "writev",
        39 => "getpid",
        41 => "socket",
        42 => "connect",
        56 => "clone",
        57 => "fork",
        59 => "execve",
        60 => "exit",
        62 => "kill",
        75 => "fdatasync",
        101 => "ptrace",
        157 => "prctl",
        228 => "clock_gettime",
        231 => "exit_group",
        271 => "ppoll",
        27 => "mincore",
        158 => "arch_prctl",
        257 => "openat",
        322 => "execveat",
        435 => "clone3",
        _ => "?",
    }
}

impl Stop {
    /// The tender's exit status for this stop.
    pub fn status(&self) -> u8 {
        match self {
            Stop::Exit(s) => *s,
            Stop::Abort(_) => exit::ABORT,
            Stop::Fault(_) | Stop::Violation(_) | Stop::ForbiddenSyscall { .. } | Stop::Asked | Stop::Internal(_) => {
                exit::STOPPED
            }
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Exit(s) => write!(f, "guest exited with status {s}"),
            Stop::Abort(m) if m.as_bytes().is_empty() => f.write_str("guest aborted"),
            Stop::Abort(m) => write!(f, "guest aborted: {m}"),
            Stop::Fault(fault) => write!(f, "stopped: guest fault: {fault}"),
            Stop::Violation(v) => write!(f, "stopped: guest broke the ABI: {v}"),
            Stop::ForbiddenSyscall { number, rip } => write!(
                f,
                "stopped: guest made a forbidden system call: {} ({number}) at rip {rip:#x}",
                syscall_name(*number)
            ),
            Stop::Asked => f.write_str("stopped at the supervisor's request"),
            Stop::Internal(why) => write!(f, "stopped: tender error: {why}"),
        }
    }
}

impl From<Violation> for Stop {
    fn from(v: Violation) -> Stop {
        Stop::Violation(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_messages_cannot_forge_lines() {
        let m = AbortMessage::new(b"boom\n\x1b[2Jfake line\xff");
        assert_eq!(m.to_string(), "boom\\n\\u{1b}[2Jfake line\\xff");
        let long = AbortMessage::new(&[b'a'; 2000]);
        assert_eq!(long.as_bytes().len(), ABORT_MESSAGE_KEEP);
    }

    #[test]
    fn messages_and_statuses() {
        let f = Stop::Fault(Fault {
            kind: FaultKind::Exception { vector: 14, error_code: 0 },
            rip: 0x100010,
            address: Some(0),
        });
        assert_eq!(
            f.to_string(),
            "stopped: guest fault: page fault (#PF) (vector 14, error code 0x0) at address 0x0, rip 0x100010"
        );
        assert_eq!(f.status(), exit::STOPPED);
        let v = Stop::from(Violation::BadBuffer { call: nr::CONSOLE_WRITE, addr: 0x1000, len: 5 });
        assert_eq!(
            v.to_string(),
            "stopped: guest broke the ABI: console-write: buffer 0x1000 of 5 bytes is outside the guest memory this call may use"
        );
        assert_eq!(Stop::Exit(3).status(), 3);
        assert_eq!(Stop::Abort(AbortMessage::new(b"x")).status(), exit::ABORT);
        let s = Stop::ForbiddenSyscall { number: 257, rip: 0x100000 };
        assert_eq!(s.to_string(), "stopped: guest made a forbidden system call: openat (257) at rip 0x100000");
    }
}
