//! Network boot arguments (NUL-separated) never panic the parser, and an
//! accepted configuration is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_net::NetConfig;

fuzz_target!(|data: &[u8]| {
    let owned: Vec<String> = data.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    // SAFETY: arguments are `&'static` in the runtime because they live as
    // long as the program; here they live for this iteration and nothing
    // keeps them beyond it.
    let mut list: Vec<&'static str> =
        owned.iter().map(|s| unsafe { std::mem::transmute::<&str, &'static str>(s.as_str()) }).collect();
    if let Ok(c) = NetConfig::take_from_args(&mut list) {
        assert!(c.ipv4_gateway.is_none() || c.ipv4.is_some());
        assert!((1024..=16 << 20).contains(&c.tcp_buffer));
    }
});
