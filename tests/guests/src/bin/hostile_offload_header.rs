//! On an offloading net device, a frame whose `virtio_net_hdr` asks the
//! host to cut it into 1-byte TCP segments (one frame, tens of thousands
//! of packets): the tender refuses the header and stops the guest. Needs a
//! TAP (`--net:service=TAP`) and `--mem` of 16 MiB or more.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main(net = "service")]
async fn main(_os: oasis::Os, _net: impl oasis::net::Stack) -> Result<(), &'static str> {
    use oasis::abi::{NetInfo, NetIo};
    use oasis_test_guests::hostile::{call, nr};
    let mut info = NetInfo { handle: 0, ..Default::default() };
    call(nr::NET_INFO, &mut info);
    if info.offload != 1 {
        return Err("the device does not offload: bind a TAP and give --mem of 16 MiB or more");
    }
    let mut frame = [0u8; 10 + 14 + 20 + 20 + 1000];
    // NEEDS_CSUM, TCP over IPv4, headers of 54 bytes, 1-byte segments,
    // the checksum at 34 + 16.
    frame[0] = 1;
    frame[1] = 1;
    frame[2..4].copy_from_slice(&54u16.to_le_bytes());
    frame[4..6].copy_from_slice(&1u16.to_le_bytes());
    frame[6..8].copy_from_slice(&34u16.to_le_bytes());
    frame[8..10].copy_from_slice(&16u16.to_le_bytes());
    let mut io = NetIo { handle: 0, data: frame.as_ptr().addr() as u64, len: frame.len() as u64, ..Default::default() };
    call(nr::NET_WRITE, &mut io);
    core::hint::black_box(&mut frame);
    Err("the tender let the guest go on")
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_offload_header is a guest-only test image");
    std::process::exit(2);
}
