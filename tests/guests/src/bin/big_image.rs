//! An image with 8 MiB of static data: refused under a smaller `--mem`,
//! runs with the default.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

static BIG: [u8; 8 << 20] = [7; 8 << 20];

#[oasis::main]
async fn main(os: oasis::Os) {
    let at = core::hint::black_box(4 << 20);
    let _ = core::fmt::Write::write_fmt(&mut os.console(), format_args!("big: {}\n", BIG[at]));
}
