//! The executor on a fake platform whose clock jumps to each deadline, so
//! these tests take no real time and cannot flake on a slow machine.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use oasis_runtime::{Duration, Machine, Os, start};

#[derive(Default)]
struct FakeMachine {
    now: Mutex<u64>,
    console: Mutex<Vec<u8>>,
    waits: Mutex<Vec<Option<u64>>>,
    /// (time, ready set) pairs: device `h` has news at that time when bit
    /// `h` is set.
    device_events: Mutex<Vec<(u64, u64)>>,
    /// Devices with news not yet taken, as a bit set.
    news: Mutex<u64>,
    /// Tasks waiting on each device, as a device driver keeps them.
    device_waiters: Mutex<Vec<(u32, Waker)>>,
}

impl Machine for FakeMachine {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn monotonic_ns(&self) -> u64 {
        *self.now.lock().unwrap()
    }
    fn wall_ns(&self) -> u64 {
        1_700_000_000_000_000_000 + self.monotonic_ns()
    }
    fn console_write(&self, bytes: &[u8]) {
        self.console.lock().unwrap().extend_from_slice(bytes);
    }
    fn console_flush(&self) {}
    fn wait(&self, deadline: Option<u64>) {
        self.waits.lock().unwrap().push(deadline);
        let mut now = self.now.lock().unwrap();
        let mut events = self.device_events.lock().unwrap();
        let next_event = events.first().map(|e| e.0);
        let until = match (deadline, next_event) {
            (Some(d), Some(e)) => d.min(e),
            (Some(d), None) => d,
            (None, Some(e)) => e,
            (None, None) => panic!("wait forever"),
        };
        *now = (*now).max(until);
        if events.first().is_some_and(|e| e.0 <= *now) {
            let ready = events.remove(0).1;
            *self.news.lock().unwrap() |= ready;
            self.device_waiters.lock().unwrap().retain(|(h, w)| {
                let fire = ready & (1 << h) != 0;
                if fire {
                    w.wake_by_ref();
                }
                !fire
            });
        }
    }
    fn has_wakeable_devices(&self) -> bool {
        !self.device_waiters.lock().unwrap().is_empty()
    }
    fn exit(&self, status: u8) -> ! {
        panic!("exit {status}")
    }
    fn abort(&self, message: &str) -> ! {
        panic!("abort: {message}")
    }
}

/// Waits for news from device `handle`, the way a driver waits: the waker
/// is kept with the device, and the machine wakes it.
struct DeviceNews {
    machine: &'static FakeMachine,
    handle: u32,
}

impl Future for DeviceNews {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let bit = 1u64 << self.handle;
        let mut news = self.machine.news.lock().unwrap();
        if *news & bit != 0 {
            *news &= !bit;
            return Poll::Ready(());
        }
        self.machine.device_waiters.lock().unwrap().push((self.handle, cx.waker().clone()));
        Poll::Pending
    }
}

fn platform() -> &'static FakeMachine {
    Box::leak(Box::default())
}

const MS: u64 = 1_000_000;

#[test]
fn timers_fire_in_deadline_order_and_time_moves_to_them() {
    let p = platform();
    let log = Rc::new(RefCell::new(Vec::new()));
    let log2 = log.clone();
    let status = start(
        p,
        vec![],
        [0; 32],
        |_| Ok(()),
        move |os: Os, ()| async move {
            let mut handles = Vec::new();
            for (name, ms) in [("c", 30), ("a", 10), ("b", 20)] {
                let os2 = os.clone();
                let log = log2.clone();
                handles.push(os.spawn(async move {
                    os2.sleep(Duration::from_millis(ms)).await;
                    log.borrow_mut().push((name, os2.now().as_nanos()));
                }));
            }
            for h in handles {
                h.await;
            }
            7u8
        },
    );
    assert_eq!(status, 7);
    assert_eq!(*log.borrow(), vec![("a", 10 * MS), ("b", 20 * MS), ("c", 30 * MS)]);
    // One sleep per distinct deadline, nothing more.
    assert_eq!(*p.waits.lock().unwrap(), vec![Some(10 * MS), Some(20 * MS), Some(30 * MS)]);
}

#[test]
fn timeout_elapses_and_cancels_its_timer() {
    let p = platform();
    let status = start(
        p,
        vec![],
        [0; 32],
        |_| Ok(()),
        |os: Os, ()| async move {
            let slow = os.sleep(Duration::from_secs(10));
            let r = os.timeout(Duration::from_secs(1), slow).await;
            assert!(r.is_err());
            assert_eq!(os.now().as_nanos(), 1000 * MS);
            let fast = os.timeout(Duration::from_secs(5), async { 3 }).await;
            assert_eq!(fast, Ok(3));
        },
    );
    assert_eq!(status, 0);
    // The 10 s sleep was dropped: no wait was ever made for it.
    assert!(!p.waits.lock().unwrap().contains(&Some(10_000 * MS)));
}

#[test]
fn error_from_main_is_printed_and_exits_1() {
    let p = platform();
    let status = start(p, vec![], [0; 32], |_| Ok(()), |_os: Os, ()| async move { Err::<(), _>("no disk") });
    assert_eq!(status, 1);
    assert_eq!(String::from_utf8_lossy(&p.console.lock().unwrap()), "error: no disk\n");
}

#[test]
fn bad_log_argument_exits_1_naming_it() {
    let p = platform();
    let status = start(p, vec!["--log", "chatty"], [0; 32], |_| Ok(()), |_os: Os, ()| async move {});
    assert_eq!(status, 1);
    let out = String::from_utf8_lossy(&p.console.lock().unwrap()).to_string();
    assert!(out.starts_with("error: --log: invalid value 'chatty'"), "{out}");
}

#[test]
fn application_sees_its_arguments_without_the_runtime_ones() {
    let p = platform();
    let args = vec!["--log=warn", "--ticks", "2"];
    let status = start(
        p,
        args,
        [0; 32],
        |_| Ok(()),
        |os: Os, ()| async move {
            assert_eq!(os.args().as_slice(), ["--ticks", "2"]);
        },
    );
    assert_eq!(status, 0);
}

#[test]
#[should_panic(expected = "abort: deadlock")]
fn deadlock_is_reported_not_slept_through() {
    let p = platform();
    start(
        p,
        vec![],
        [0; 32],
        |_| Ok(()),
        |_os: Os, ()| async move {
            std::future::pending::<()>().await;
        },
    );
}

#[test]
fn device_readiness_wakes_the_waiting_task() {
    let p = platform();
    p.device_events.lock().unwrap().push((5 * MS, 0b10));
    let status = start(
        p,
        vec![],
        [0; 32],
        |_| Ok(()),
        |os: Os, ()| async move {
            DeviceNews { machine: p, handle: 1 }.await;
            assert_eq!(os.now().as_nanos(), 5 * MS);
        },
    );
    assert_eq!(status, 0);
}

#[test]
fn yield_now_lets_others_run_and_random_is_seeded() {
    let p = platform();
    let status = start(
        p,
        vec![],
        [9; 32],
        |_| Ok(()),
        |os: Os, ()| async move {
            let flag = Rc::new(RefCell::new(false));
            let f2 = flag.clone();
            let _h = os.spawn(async move { *f2.borrow_mut() = true });
            os.yield_now().await;
            assert!(*flag.borrow());
            let mut a = [0u8; 16];
            os.fill_random(&mut a);
            assert_ne!(a, [0u8; 16]);
            use oasis_runtime::Random;
            assert_ne!(os.next_u64(), os.next_u64());
        },
    );
    assert_eq!(status, 0);
}

#[test]
fn an_async_mutex_can_be_held_across_awaits() {
    let p = platform();
    let status = start(
        p,
        vec![],
        [0; 32],
        |_| Ok(()),
        |os: Os, ()| async move {
            let m = Rc::new(oasis_runtime::sync::Mutex::new(Vec::new()));
            let mut handles = Vec::new();
            for i in 0..3u32 {
                let (m, os2) = (m.clone(), os.clone());
                handles.push(os.spawn(async move {
                    let mut g = m.lock().await;
                    g.push(i * 10);
                    os2.sleep(Duration::from_millis(5)).await;
                    g.push(i * 10 + 1);
                }));
            }
            for h in handles {
                h.await;
            }
            // Each holder finished both pushes before the next got the lock.
            assert_eq!(*m.try_lock().unwrap(), vec![0, 1, 10, 11, 20, 21]);
        },
    );
    assert_eq!(status, 0);
}

#[test]
fn idle_waits_for_other_tasks_and_pending_input() {
    let p = platform();
    // Input already at device 0 when the program starts.
    p.device_events.lock().unwrap().push((0, 0b1));
    let status = start(
        p,
        vec![],
        [0; 32],
        |_| Ok(()),
        |os: Os, ()| async move {
            let log = Rc::new(RefCell::new(Vec::new()));
            let (l1, os1) = (log.clone(), os.clone());
            let _busy = os.spawn(async move {
                for i in 0..5 {
                    l1.borrow_mut().push(format!("busy {i}"));
                    os1.yield_now().await;
                }
            });
            let l2 = log.clone();
            let _reader = os.spawn(async move {
                DeviceNews { machine: p, handle: 0 }.await;
                l2.borrow_mut().push("input".to_string());
            });
            os.idle().await;
            log.borrow_mut().push("idle".to_string());
            let log = log.borrow();
            assert_eq!(log.last().map(String::as_str), Some("idle"), "{log:?}");
            assert!(log.contains(&"busy 4".to_string()) && log.contains(&"input".to_string()), "{log:?}");
            // It never slept: idle is not a timer.
            assert_eq!(os.now().as_nanos(), 0);
        },
    );
    assert_eq!(status, 0);
}
