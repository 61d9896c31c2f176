//! `queue_signal` carries a value that `BlockedSignals::next` reads back
//! (how `oasis stop --time` tells a run its tender's grace), and a plain
//! `kill` carries none. One thread, no harness: see Cargo.toml.

use std::time::Duration;

fn main() {
    let signals = oasis_sys::BlockedSignals::block(&[libc::SIGTERM]).expect("blocking SIGTERM");
    let me = std::process::id();

    oasis_sys::queue_signal(me, libc::SIGTERM, 37).expect("sigqueue to ourselves");
    let caught = signals.next(Duration::from_secs(5)).expect("the queued SIGTERM");
    assert_eq!(caught, oasis_sys::Caught { signal: libc::SIGTERM, queued: Some(37) });

    oasis_sys::signal_process(me, libc::SIGTERM).expect("kill to ourselves");
    let caught = signals.next(Duration::from_secs(5)).expect("the plain SIGTERM");
    assert_eq!(caught, oasis_sys::Caught { signal: libc::SIGTERM, queued: None });

    assert_eq!(signals.next(Duration::from_millis(10)), None, "nothing else pending");
    println!("queued_signal: ok");
}
