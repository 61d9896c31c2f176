//! Panics with a message.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[oasis::main]
async fn main(os: oasis::Os) {
    let n = os.args().as_slice().len();
    panic!("conformance panic with {n} arguments");
}
