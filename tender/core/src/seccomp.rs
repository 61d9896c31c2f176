//! Seccomp policy as data: every allowed system call with the argument
//! values it is pinned to and the reason it is needed. A tender builds the
//! policy from what it actually bound, then installs it once, before the
//! guest runs. Anything else raises `SIGSYS`, which the tender reports.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// One allowed system call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The system call number.
    pub syscall: i64,
    /// Its name, for people.
    pub name: &'static str,
    /// `(argument index, value)` pairs that must all hold; empty: any arguments.
    pub pinned: Vec<(u8, u64)>,
    /// Why the tender needs it.
    pub reason: &'static str,
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

impl Policy {
    /// Allows `syscall` with any arguments.
    pub fn allow(mut self, syscall: i64, name: &'static str, reason: &'static str) -> Policy {
        self.rules.push(Rule { syscall, name, pinned: Vec::new(), reason });
        self
    }

    /// Allows `syscall` only when argument `arg` equals `value` (a file
    /// descriptor, usually).
    pub fn allow_pinned(self, syscall: i64, name: &'static str, arg: u8, value: u64, reason: &'static str) -> Policy {
        self.allow_when(syscall, name, &[(arg, value)], reason)
    }

    /// Allows `syscall` only when every `(argument, value)` pair holds.
    pub fn allow_when(
        mut self,
        syscall: i64,
        name: &'static str,
        pinned: &[(u8, u64)],
        reason: &'static str,
    ) -> Policy {
        self.rules.push(Rule { syscall, name, pinned: pinned.to_vec(), reason });
        self
    }

    /// What every tender needs once the guest runs: the console, the
    /// tender's own error line, the clocks, yield, signal return and exit.
    pub fn base() -> Policy {
        Policy::default()
            .allow_pinned(libc::SYS_write, "write", 0, 1, "guest console output to stdout")
            .allow_pinned(libc::SYS_write, "write", 0, 2, "the tender's one-line message on stderr")
            .allow(libc::SYS_ppoll, "ppoll", "yield: sleep until a deadline or device input")
            .allow(libc::SYS_clock_gettime, "clock_gettime", "clocks, where the vDSO falls back to the kernel")
            .allow(libc::SYS_rt_sigreturn, "rt_sigreturn", "return from the tender's fault and timeout handlers")
            .allow(libc::SYS_exit_group, "exit_group", "the tender exits with the guest's status")
    }

    /// The BPF program: allow what the rules say, trap everything else.
    pub fn compile(&self) -> Result<seccompiler::BpfProgram, SeccompError> {
        let build = |e: seccompiler::BackendError| SeccompError::Build(e.to_string());
        let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for r in &self.rules {
            // seccompiler spells "any arguments" as an empty rule list.
            let unconditional = self.rules.iter().any(|o| o.syscall == r.syscall && o.pinned.is_empty());
            let entry = map.entry(r.syscall).or_default();
            if unconditional {
                continue;
            }
            let conditions = r
                .pinned
                .iter()
                .map(|&(arg, value)| SeccompCondition::new(arg, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, value))
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
            for (arg, value) in &r.pinned {
                write!(f, " arg{arg}={value}")?;
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
        let p = Policy::base();
        assert!(!p.compile().unwrap().is_empty());
        let text = p.to_string();
        assert!(text.contains("write            arg0=1  # guest console output to stdout"), "{text}");
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
            let program = Policy::base().compile().unwrap_or_default();
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
