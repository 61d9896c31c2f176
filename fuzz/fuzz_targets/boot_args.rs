//! Boot arguments (NUL-separated) never panic the runtime's parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_runtime::Args;

fuzz_target!(|data: &[u8]| {
    let owned: Vec<String> = data.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    // SAFETY: the runtime holds arguments as `&'static str` because they
    // live as long as the program; here they live as long as this
    // iteration, and nothing below keeps them beyond it.
    let list: Vec<&'static str> =
        owned.iter().map(|s| unsafe { std::mem::transmute::<&str, &'static str>(s.as_str()) }).collect();
    let _ = oasis_runtime::logger::take_log_arg(list.clone());
    let args = Args::new(list);
    let mut p = args.parser();
    let _ = p.value::<u32>("--ticks");
    let _ = p.flag("--verbose");
    let _ = p.values::<String>("--name");
    let _ = p.finish();
});
