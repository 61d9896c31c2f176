//! Makes a raw system call (`--call openat|execve|mmap`, default openat):
//! on spt the seccomp sandbox must stop it and the tender report it.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main]
async fn main(os: oasis::Os) -> Result<(), &'static str> {
    let number: u64 = match os.args().as_slice().first().copied() {
        None | Some("openat") => 257,
        Some("execve") => 59,
        Some("mmap") => 9,
        Some(_) => return Err("unknown call"),
    };
    let path = b"/etc/passwd\0";
    // SAFETY: deliberately forbidden: the sandbox must kill this call before
    // the kernel runs it. Arguments are harmless if it ever did run.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => _,
            in("rdi") -100i64, in("rsi") path.as_ptr(), in("rdx") 0, in("r10") 0, in("r8") -1i64, in("r9") 0,
            lateout("rcx") _, lateout("r11") _,
        )
    };
    Err("the forbidden system call returned")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("forbidden_syscall is a guest-only test image");
    std::process::exit(2);
}
