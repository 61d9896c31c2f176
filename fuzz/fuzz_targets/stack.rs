//! Hostile frames through the whole receive path: the frame checks, then
//! smoltcp with a TCP echo listener and a UDP echo socket, as the echo
//! unikernel runs them, on a fake platform whose clock jumps to each
//! deadline. Nothing panics, no frame sent is over the MTU, and every frame
//! sent passes our own frame checks. (Checksums of sent frames are checked
//! by `lib/net`'s property tests: here, as below, they are not verified.)
//!
//! Input: frames, each a little-endian u16 length and that many bytes;
//! after a leading `OFFL`, offloaded frames (each with its 10-byte
//! `virtio_net_hdr`), as a TAP with offloads hands them over: then every
//! frame sent must have a header that makes sense, and be no larger than
//! the wire unless it is a TCP segment for the host to cut.
//! Checksums are not verified under `cfg(fuzzing)` (ours or smoltcp's),
//! so the fuzzer reaches TCP and UDP without forging them.
#![no_main]

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use oasis_devices::{DeviceError, NetDevice, NetInfo, OFFLOAD_MAX_FRAME, OffloadHeader, net_offload};
use oasis_net::config::Cidr;
use oasis_net::io::{Read, Write};
use oasis_net::{NetConfig, SmolStack, Stack, TcpListener, TcpStream, UdpSocket};
use oasis_runtime::{Duration, Machine, Os, start};

/// Frames still to deliver, and every frame sent.
static RX: Mutex<VecDeque<Vec<u8>>> = Mutex::new(VecDeque::new());
static TX: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
static NOW: Mutex<u64> = Mutex::new(0);
static OFFLOAD: Mutex<bool> = Mutex::new(false);
/// The stack's driver, waiting for a frame.
static WAITER: Mutex<Option<std::task::Waker>> = Mutex::new(None);

struct FakeMachine;

impl Machine for FakeMachine {
    fn name(&self) -> &'static str {
        "fuzz"
    }
    fn monotonic_ns(&self) -> u64 {
        *NOW.lock().unwrap()
    }
    fn wall_ns(&self) -> u64 {
        self.monotonic_ns()
    }
    fn console_write(&self, _: &[u8]) {}
    fn console_flush(&self) {}
    fn wait(&self, deadline: Option<u64>) {
        let mut now = NOW.lock().unwrap();
        // A frame arrives a millisecond later, unless a timer is due first.
        if !RX.lock().unwrap().is_empty() {
            let next = *now + 1_000_000;
            *now = deadline.map_or(next, |d| d.min(next)).max(*now);
            if let Some(w) = WAITER.lock().unwrap().take() {
                w.wake();
            }
            return;
        }
        // Main's sleep always leaves a deadline.
        *now = deadline.unwrap_or(*now).max(*now);
    }
    fn has_wakeable_devices(&self) -> bool {
        WAITER.lock().unwrap().is_some()
    }
    fn exit(&self, status: u8) -> ! {
        panic!("exit {status}")
    }
    fn abort(&self, message: &str) -> ! {
        panic!("abort: {message}")
    }
}

static MACHINE: FakeMachine = FakeMachine;

struct FakeNet;

impl NetDevice for FakeNet {
    fn info(&self) -> NetInfo {
        NetInfo { mac: [2, 0, 0, 0, 0, 2], mtu: 1500, offload: *OFFLOAD.lock().unwrap() }
    }
    fn poll_receive_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if RX.lock().unwrap().is_empty() {
            *WAITER.lock().unwrap() = Some(cx.waker().clone());
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    }
    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        let Some(frame) = RX.lock().unwrap().pop_front() else { return Ok(None) };
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Ok(Some(n))
    }
    fn transmit(&mut self, frame: &[u8]) -> Result<bool, DeviceError> {
        let max = if *OFFLOAD.lock().unwrap() { OFFLOAD_MAX_FRAME } else { 1514 };
        assert!(frame.len() <= max, "a frame over the MTU: {} bytes", frame.len());
        TX.lock().unwrap().push(frame.to_vec());
        Ok(true)
    }
}

async fn serve(os: Os) -> u8 {
    let config = NetConfig {
        ipv4: Some(Cidr { addr: Ipv4Addr::new(10, 0, 0, 2), prefix: 24 }),
        ipv6: Some(Cidr { addr: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2), prefix: 64 }),
        tcp_buffer: 4096,
        tcp_backlog: 4,
        ..NetConfig::default()
    };
    let stack = SmolStack::new(&os, FakeNet, config);
    let listener = stack.tcp_listen(7).await.unwrap();
    let os2 = os.clone();
    os.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            os2.spawn(async move {
                let mut buf = [0u8; 512];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    let udp = stack.udp_bind(7).await.unwrap();
    os.spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            let _ = udp.send_to(&buf[..n], from).await;
        }
    });
    // Long enough for retransmissions and timeouts to run.
    os.sleep(Duration::from_secs(120)).await;
    0
}

fuzz_target!(|data: &[u8]| {
    {
        let mut rx = RX.lock().unwrap();
        rx.clear();
        let offload = data.starts_with(b"OFFL");
        *OFFLOAD.lock().unwrap() = offload;
        let mut rest = if offload { &data[4..] } else { data };
        while let [lo, hi, more @ ..] = rest {
            let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(more.len());
            rx.push_back(more[..len].to_vec());
            rest = &more[len..];
        }
    }
    TX.lock().unwrap().clear();
    *NOW.lock().unwrap() = 0;
    let status = start(&MACHINE, vec!["--log", "off"], [7; 32], |_| Ok(()), |os: Os, ()| serve(os));
    assert_eq!(status, 0);
    let offload = *OFFLOAD.lock().unwrap();
    for frame in TX.lock().unwrap().iter() {
        let (frame, trusted) = if offload {
            let header = OffloadHeader::read(frame).expect("an offloaded frame has its header");
            let frame = &frame[net_offload::HEADER_LEN..];
            if header.gso_type == net_offload::GSO_NONE {
                assert!(frame.len() <= 1514, "a frame over the wire's MTU and not for the host to cut");
            } else {
                assert!(header.gso_size > 0 && usize::from(header.hdr_len) < frame.len(), "{header:?}");
                assert!(usize::from(header.hdr_len) + usize::from(header.gso_size) <= 1514, "{header:?}");
            }
            if header.flags & net_offload::NEEDS_CSUM != 0 {
                assert!(usize::from(header.csum_start) + usize::from(header.csum_offset) + 2 <= frame.len());
            }
            (frame, header.flags & net_offload::NEEDS_CSUM != 0)
        } else {
            (&frame[..], false)
        };
        assert!(
            oasis_net::validate::check_with(frame, trusted).is_ok(),
            "the stack sent a frame our checks refuse: {frame:02x?}"
        );
    }
});
