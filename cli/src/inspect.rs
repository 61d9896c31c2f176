//! `oasis inspect`: what an image declares and how big it is.

use std::path::Path;

use anyhow::{Context, Result, bail};
use elf::ElfBytes;
use elf::endian::LittleEndian;
use oasis_tender::{Image, ImageError, ManifestError};

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// `oasis inspect IMAGE`.
pub fn inspect(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    println!("image: {} ({} on disk)", path.display(), human(bytes.len() as u64));
    let image = match Image::parse(&bytes) {
        Ok(i) => i,
        Err(ImageError::Manifest(ManifestError::AbiMismatch { image, tender })) => {
            println!("abi version: {image} (this oasis speaks {tender}: rebuild the image)");
            bail!("{}: built for another ABI version", path.display());
        }
        Err(e) => bail!("{}: {e}", path.display()),
    };
    println!("abi version: {}", oasis_abi::ABI_VERSION);
    println!("entry: {:#x}", image.entry);
    if image.manifest.devices.is_empty() {
        println!("devices: none");
    } else {
        println!("devices:");
        for (handle, d) in image.manifest.devices.iter().enumerate() {
            let offload = d.flags & oasis_abi::manifest::NET_OFFLOAD != 0;
            println!("  {handle}  {:<5}  {}{}", d.kind.as_str(), d.name, if offload { "  (offload)" } else { "" });
        }
    }
    println!("segments:");
    for s in &image.segments {
        let flags = format!(
            "{}{}{}",
            if s.read { 'r' } else { '-' },
            if s.write { 'w' } else { '-' },
            if s.execute { 'x' } else { '-' }
        );
        println!("  {:#010x}  {flags}  {:>10}  ({} from the file)", s.addr, human(s.mem_len), human(s.file_len));
    }
    println!(
        "memory: image ends at {:#x}; needs at least {} of guest memory",
        image.kernel_end,
        human(min_mem(&image))
    );
    let file = ElfBytes::<LittleEndian>::minimal_parse(&bytes).context("reading sections")?;
    if let Ok((Some(headers), Some(names))) = file.section_headers_with_strtab() {
        println!("sections:");
        for sh in headers.iter().filter(|s| s.sh_flags & u64::from(elf::abi::SHF_ALLOC) != 0) {
            let name = names.get(sh.sh_name as usize).unwrap_or("?");
            println!("  {name:<16} {:>10}", human(sh.sh_size));
        }
    }
    Ok(())
}

fn min_mem(image: &Image) -> u64 {
    let needed = image.kernel_end
        + oasis_tender::memory::MIN_HEAP
        + oasis_abi::layout::PAGE_SIZE
        + oasis_abi::layout::STACK_SIZE;
    needed.max(oasis_abi::layout::MIN_MEM_SIZE)
}
