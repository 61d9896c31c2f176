//! Calls abort with a message.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[oasis::main]
async fn main(os: oasis::Os) {
    os.abort("conformance abort");
}
