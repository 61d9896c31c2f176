//! Seccomp policy as data: every allowed system call with the bounds its
//! arguments must keep and the reason it is needed. A tender builds the
//! policy from what it actually bound, then installs it once, before the
//! guest runs. Anything else raises `SIGSYS`, which the tender reports.
//!
//! On spt the guest shares the tender's process and may make any allowed
//! call itself, with arguments of its choosing, so the bounds here are the
//! boundary: each rule pins every argument seccomp can compare (a
//! descriptor, a length, an offset) as tightly as the tender's own use
//! allows. `oasis spt IMAGE --print-filter` prints the policy.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// How an argument is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// Equal to the value.
    Eq,
    /// At most the value (unsigned).
    Le,
}

/// One bound on one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The argument's index (0 to 5).
    pub arg: u8,
    /// How it is compared.
    pub cmp: Cmp,
    /// With what.
    pub value: u64,
}

impl Bound {
    /// Argument `arg` equals `value`.
    pub const fn eq(arg: u8, value: u64) -> Bound {
        Bound { arg, cmp: Cmp::Eq, value }
    }

    /// Argument `arg` is at most `value`.
    pub const fn le(arg: u8, value: u64) -> Bound {
        Bound { arg, cmp: Cmp::Le, value }
    }
}

/// One allowed system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The system call number.
    pub syscall: i64,
    /// Its name, for people.
    pub name: &'static str,
    /// Bounds that must all hold; empty: any arguments.
    pub bounds: Vec<Bound>,
    /// Why the tender needs it: which device or tender need it serves.
    pub reason: String,
}

/// A whole policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The allowed calls; several rules for one call are alternatives.
    pub rules: Vec<Rule>,
}

/// A policy that could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// seccompiler refused the rules.
    #[error("building the seccomp filter: {0}")]
    Build(String),
    /// The kernel refused the filter.
    #[error("installing the seccomp filter: {0}")]
    Install(String),
}

/// The largest write the tender makes to its report pipe (fd 2).
pub const REPORT_WRITE_MAX: u64 = 4096;

impl Policy {
    /// Allows `syscall` with any arguments.
    pub fn allow(mut self, syscall: i64, name: &'static str, reason: impl Into<String>) -> Policy {
        self.rules.push(Rule { syscall, name, bounds: Vec::new(), reason: reason.into() });
        self
    }

    /// Allows `syscall` only when argument `arg` equals `value` (a file
    /// descriptor, usually).
    pub fn allow_pinned(
        self,
        syscall: i64,
        name: &'static str,
        arg: u8,
        value: u64,
        reason: impl Into<String>,
    ) -> Policy {
        self.allow_where(syscall, name, &[Bound::eq(arg, value)], reason)
    }

    /// Allows `syscall` only when every `(argument, value)` pair holds.
    pub fn allow_when(
        self,
        syscall: i64,
        name: &'static str,
        pinned: &[(u8, u64)],
        reason: impl Into<String>,
    ) -> Policy {
        let bounds: Vec<Bound> = pinned.iter().map(|&(arg, value)| Bound::eq(arg, value)).collect();
        self.allow_where(syscall, name, &bounds, reason)
    }

    /// Allows `syscall` only when every bound holds.
    pub fn allow_where(
        mut self,
        syscall: i64,
        name: &'static str,
        bounds: &[Bound],
        reason: impl Into<String>,
    ) -> Policy {
        self.rules.push(Rule { syscall, name, bounds: bounds.to_vec(), reason: reason.into() });
        self
    }

    /// What every tender needs once the guest runs: the console (at most
    /// one hypercall's worth per write), the tender's report to its
    /// supervisor (at most [`REPORT_WRITE_MAX`] per write), the clocks,
    /// yield (on at most `waited` descriptors), return from the fault
    /// handlers, and exit.
    pub fn base(waited: usize) -> Policy {
        Policy::default()
            .allow_where(
                libc::SYS_write,
                "write",
                &[Bound::eq(0, 1), Bound::le(2, oasis_abi::CONSOLE_WRITE_MAX)],
                "console: guest output to stdout (the supervisor relays it), one hypercall's worth",
            )
            .allow_where(
                libc::SYS_write,
                "write",
                &[Bound::eq(0, 2), Bound::le(2, REPORT_WRITE_MAX)],
                "tender: the final report, to the supervisor's pipe",
            )
            .allow_where(
                libc::SYS_ppoll,
                "ppoll",
                &[Bound::le(1, waited as u64)],
                "yield: sleep until a deadline or input on the net devices",
            )
            .allow(libc::SYS_clock_gettime, "clock_gettime", "clocks, where the vDSO falls back to the kernel")
            .allow(libc::SYS_rt_sigreturn, "rt_sigreturn", "tender: return from its fault handlers")
            .allow(libc::SYS_exit_group, "exit_group", "tender: exit with the guest's status")
    }

    /// The BPF program: allow what the rules say, trap everything else.
    pub fn compile(&self) -> Result<seccompiler::BpfProgram, SeccompError> {
        let build = |e: seccompiler::BackendError| SeccompError::Build(e.to_string());
        let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for r in &self.rules {
            // seccompiler spells "any arguments" as an empty rule list.
            let unconditional = self.rules.iter().any(|o| o.syscall == r.syscall && o.bounds.is_empty());
            let entry = map.entry(r.syscall).or_default();
            if unconditional {
                continue;
            }
            let conditions = r
                .bounds
                .iter()
                .map(|b| {
                    let op = match b.cmp {
                        Cmp::Eq => SeccompCmpOp::Eq,
                        Cmp::Le => SeccompCmpOp::Le,
                    };
                    SeccompCondition::new(b.arg, SeccompCmpArgLen::Qword, op, b.value)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(build)?;
            entry.push(SeccompRule::new(conditions).map_err(build)?);
        }
        let filter =
            SeccompFilter::new(map, SeccompAction::Trap, SeccompAction::Allow, TargetArch::x86_64).map_err(build)?;
        filter.try_into().map_err(build)
    }

    /// Installs the policy on the calling thread, for good.
    pub fn install(&self) -> Result<(), SeccompError> {
        let program = self.compile()?;
        seccompiler::apply_filter(&program).map_err(|e| SeccompError::Install(e.to_string()))
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rules {
            write!(f, "{:<16}", r.name)?;
            for b in &r.bounds {
                let op = match b.cmp {
                    Cmp::Eq => "=",
                    Cmp::Le => "<=",
                };
                write!(f, " arg{}{op}{}", b.arg, b.value)?;
            }
            writeln!(f, "  # {}", r.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_policy_compiles_and_says_why() {
        let p = Policy::base(1);
        assert!(!p.compile().unwrap().is_empty());
        let text = p.to_string();
        assert!(text.contains("write            arg0=1 arg2<=65536  # console:"), "{text}");
        assert!(p.rules.iter().all(|r| !r.reason.is_empty()));
    }

    #[test]
    fn a_forbidden_call_is_trapped_in_a_child() {
        // Fork so the filter never touches the test runner.
        // SAFETY: the child only installs the filter, makes raw system calls
        // and exits; it touches no locks the parent may hold.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let program = Policy::base(0).compile().unwrap_or_default();
            if seccompiler::apply_filter(&program).is_err() {
                // SAFETY: _exit is always safe to call.
                unsafe { libc::_exit(3) };
            }
            // SAFETY: getpid takes no arguments; the filter traps it.
            unsafe { libc::syscall(libc::SYS_getpid) };
            // SAFETY: not reached: SIGSYS (default action) kills us first.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child; `status` is writable.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFSIGNALED(status), "child status {status:#x}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSYS);
    }
}
