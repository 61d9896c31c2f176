//! Writes offloaded TCP frames straight to the TAP's descriptor with raw
//! `write` calls, around the tender's check of their `virtio_net_hdr`:
//! `--fd N [--frames K] [--gso-size G] [--payload BYTES] [--dest IPV4]
//! [--dest-mac MAC]`. What the host
//! kernel does with a tiny `gso_size` (how many packets one frame becomes)
//! is what docs/net.md reports; nothing a guest writes here should hurt
//! more than that.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[oasis::main(net = "service")]
async fn main(os: oasis::Os, _net: impl oasis::net::Stack) -> Result<(), oasis::ArgError> {
    use oasis::alloc::vec;
    use oasis_test_guests::raw::{nr, syscall};
    let mut args = os.args().parser();
    let fd: u64 = args.value("--fd")?.unwrap_or(4);
    let frames: u32 = args.value("--frames")?.unwrap_or(100);
    let gso_size: u16 = args.value("--gso-size")?.unwrap_or(1);
    let payload: usize = args.value("--payload")?.unwrap_or(64_000);
    let dest: core::net::Ipv4Addr = args.value("--dest")?.unwrap_or(core::net::Ipv4Addr::new(10, 0, 0, 1));
    let dest_mac: oasis::alloc::string::String =
        args.value("--dest-mac")?.unwrap_or_else(|| "ff:ff:ff:ff:ff:ff".into());
    args.finish()?;
    let mut mac = [0xffu8; 6];
    for (m, part) in mac.iter_mut().zip(dest_mac.split(':')) {
        *m = u8::from_str_radix(part, 16).unwrap_or(0xff);
    }
    let len = 10 + 14 + 20 + 20 + payload;
    let mut f = vec![0u8; len];
    // virtio_net_hdr: NEEDS_CSUM, TCPv4, hdr_len 54, gso_size, csum 34+16.
    f[0] = 1;
    f[1] = 1;
    f[2..4].copy_from_slice(&54u16.to_le_bytes());
    f[4..6].copy_from_slice(&gso_size.to_le_bytes());
    f[6..8].copy_from_slice(&34u16.to_le_bytes());
    f[8..10].copy_from_slice(&16u16.to_le_bytes());
    let e = &mut f[10..];
    e[0..6].copy_from_slice(&mac);
    e[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    e[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut e[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + 20 + payload) as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, 0, 0, 2]);
    ip[16..20].copy_from_slice(&dest.octets());
    let mut sum: u32 = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let tcp = &mut e[34..54];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&9u16.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x10; // ACK
    tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
    let mut sent = 0u32;
    for _ in 0..frames {
        if syscall(nr::WRITE, [fd, f.as_ptr() as u64, len as u64, 0, 0, 0]) > 0 {
            sent += 1;
        }
    }
    os.print(format_args!("raw-tap sent {sent} of {frames} frames\n"));
    Ok(())
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("hostile_raw_tap is a guest-only test image");
    std::process::exit(2);
}
