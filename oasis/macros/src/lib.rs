//! `#[oasis::main]`: turns an `async fn main(os: Os)` into a unikernel entry
//! for every target, and declares its devices.
//!
//! The attribute lists the devices the unikernel uses, by kind and name:
//! `#[oasis::main(net = "service", block = "storage")]`. It emits the
//! device manifest as an ELF note and the program's entry, which the
//! platform chosen by the `oasis` crate shapes (its `entry!` macro: the
//! `__oasis_main` the tender platform's boot code calls, or a unix
//! program's `fn main`); nothing here knows the platforms. Names are
//! checked here, at compile time, with the same rules the tender applies
//! at boot.
//!
//! This crate is not used directly: the `oasis` crate re-exports it.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Most devices one unikernel may declare (`oasis_abi::manifest::MAX_DEVICES`).
const MAX_DEVICES: usize = 32;
/// Longest device name (`oasis_abi::manifest::MAX_NAME_LEN`).
const MAX_NAME_LEN: usize = 31;

struct Device {
    kind: &'static str,
    name: String,
}

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_lowercase()
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

fn parse_devices(attr: TokenStream) -> syn::Result<Vec<Device>> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse(attr)?;
    let mut devices: Vec<Device> = Vec::new();
    for meta in metas {
        let Meta::NameValue(nv) = &meta else {
            return Err(syn::Error::new_spanned(meta, "expected `net = \"name\"` or `block = \"name\"`"));
        };
        let kind = match nv.path.get_ident().map(|i| i.to_string()).as_deref() {
            Some("net") => "Net",
            Some("block") => "Block",
            _ => {
                return Err(syn::Error::new_spanned(&nv.path, "device kind must be `net` or `block`"));
            }
        };
        let Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) = &nv.value else {
            return Err(syn::Error::new_spanned(&nv.value, "device name must be a string literal"));
        };
        let name = s.value();
        if !valid_name(&name) {
            return Err(syn::Error::new_spanned(
                s,
                format!("invalid device name {name:?}: 1 to {MAX_NAME_LEN} of [a-z0-9_-], starting with a letter"),
            ));
        }
        if devices.iter().any(|d| d.name == name) {
            return Err(syn::Error::new_spanned(s, format!("device name {name:?} declared twice")));
        }
        devices.push(Device { kind, name });
    }
    if devices.len() > MAX_DEVICES {
        return Err(syn::Error::new(Span::call_site(), format!("at most {MAX_DEVICES} devices")));
    }
    Ok(devices)
}

/// Marks the unikernel's `async fn main(os: oasis::Os, …)` and declares
/// its devices; each declared device becomes an argument after `os`, in
/// the order declared (`net` devices give an `impl oasis::net::Stack`,
/// `block` devices an `impl oasis::block::BlockDevice`).
/// `main` returns `()`, `u8` or a `Result` whose error is `Display`. See
/// the crate docs.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let devices = match parse_devices(attr) {
        Ok(d) => d,
        Err(e) => return e.to_compile_error().into(),
    };
    let mut function = syn::parse_macro_input!(item as ItemFn);
    if function.sig.asyncness.is_none() {
        return syn::Error::new_spanned(function.sig.fn_token, "#[oasis::main] needs an `async fn`")
            .to_compile_error()
            .into();
    }
    if function.sig.inputs.len() != 1 + devices.len() {
        let msg = format!(
            "#[oasis::main] passes `os: oasis::Os` and then one argument per declared device ({} declared), so `main` takes {} arguments",
            devices.len(),
            1 + devices.len()
        );
        return syn::Error::new_spanned(&function.sig.inputs, msg).to_compile_error().into();
    }
    let user_main = syn::Ident::new("__oasis_user_main", Span::call_site());
    function.sig.ident = user_main.clone();

    let count = devices.len();
    let entries = devices.iter().map(|d| {
        let kind = syn::Ident::new(d.kind, Span::call_site());
        let name = &d.name;
        // Net devices go to `oasis-net`'s stack, which takes offloaded
        // frames (64 KiB TCP segments) where the tender can give them.
        let flags = if d.kind == "Net" {
            quote! { ::oasis::abi::manifest::NET_OFFLOAD }
        } else {
            quote! { 0 }
        };
        quote! { ::oasis::abi::DeviceEntry::new(::oasis::abi::DeviceKind::#kind, #name).with_flags(#flags) }
    });
    let manifest = quote! { [#(#entries),*] };
    let vars: Vec<syn::Ident> =
        (0..count).map(|i| syn::Ident::new(&format!("__oasis_device_{i}"), Span::call_site())).collect();
    let takes = devices.iter().enumerate().map(|(i, d)| {
        let handle = i as u32;
        let name = &d.name;
        match d.kind {
            "Net" => quote! { ::oasis::__private::take_net_args(args, #handle, #name)? },
            _ => quote! { ::oasis::__private::take_block_args(args, #handle, #name)? },
        }
    });
    let starts = vars.iter().zip(&devices).map(|(v, d)| {
        let open = match d.kind {
            "Net" => quote! { ::oasis::__private::open_net },
            _ => quote! { ::oasis::__private::open_block },
        };
        quote! { let #v = match #open(&os, #v) { Ok(d) => d, Err(e) => return Err(e) }; }
    });
    let run = quote! {
        ::oasis::__private::boot(
            |args: &mut ::oasis::alloc::vec::Vec<&'static str>| ::core::result::Result::Ok((#(#takes,)*)),
            |os: ::oasis::Os, (#(#vars,)*)| async move {
                #(#starts)*
                ::core::result::Result::<_, ::oasis::__private::DeviceSetupError>::Ok(#user_main(os, #(#vars),*).await)
            },
        )
    };

    quote! {
        #function

        // On unix the same note is kept in the program (a section of that
        // name), so `oasis run` can see which devices it declares.
        // SAFETY: the section holds only this note (plain, `#[repr(C)]` data
        // the tender parses); one per image, the macro runs once.
        #[used]
        #[unsafe(link_section = ".note.oasis")]
        static __OASIS_MANIFEST: ::oasis::abi::ManifestNote<#count> = ::oasis::abi::ManifestNote::new(#manifest);

        ::oasis::__private::entry!(#run);
    }
    .into()
}
