//! The start both tenders share: read and check the image, see that it
//! fits the memory asked for, bind its devices and open them; and the
//! errors of setting up a guest, whichever tender it is.

use std::path::PathBuf;

use crate::config::{self, BindError, TenderArgs};
use crate::devices::{self, Backend, DeviceSetupError};
use crate::image::Image;
use crate::image_file::{ImageFile, ImageFileError};
use crate::memory::{self, LoadError};
use crate::seccomp::SeccompError;

/// Why a guest could not be started. Each message is one line naming the
/// cause; the tender exits with `oasis_abi::exit::REFUSED`.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The image file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The image file is not an Oasis image.
    #[error("{path}: {source}")]
    Image {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        source: ImageFileError,
    },
    /// The image, its arguments or its memory do not fit.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Bindings do not match the manifest.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A bound device could not be set up.
    #[error(transparent)]
    Device(#[from] DeviceSetupError),
    /// Setting up the process failed.
    #[error("{what}: {source}")]
    Host {
        /// The step.
        what: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The sandbox could not be built or installed.
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
}

/// Turns an OS error of the step `what` into a [`SetupError`].
pub fn host_error(what: &'static str) -> impl FnOnce(std::io::Error) -> SetupError {
    move |source| SetupError::Host { what, source }
}

/// An image ready to load: its file, what was parsed from it, and its
/// devices, open.
#[derive(Debug)]
pub struct Prepared {
    /// The image file (segments are loaded from it).
    pub file: ImageFile,
    /// The parsed image.
    pub image: Image,
    /// The host side of each declared device, in handle order.
    pub backends: Vec<Backend>,
}

/// The least guest memory with which net devices get offloaded frames:
/// the guest then keeps about 1 MiB of 64 KiB receive buffers per device,
/// and sends may take as much again; below it, plain frames.
pub const MIN_OFFLOAD_MEM: u64 = 16 << 20;

/// Reads and checks `args.image`, checks it fits `args.mem`, binds its
/// devices as `args` says and opens them.
pub fn prepare(args: &TenderArgs) -> Result<Prepared, SetupError> {
    let path = args.image.clone();
    let file = ImageFile::open(&args.image).map_err(|source| match source {
        ImageFileError::Io(source) => SetupError::Read { path, source },
        source => SetupError::Image { path, source },
    })?;
    let image = file.image.clone();
    memory::check_fits(&image, args.mem)?;
    let bound = config::bind(&image.manifest, &args.bindings)?;
    let offload: Vec<bool> = image
        .manifest
        .devices
        .iter()
        .map(|d| d.flags & oasis_abi::manifest::NET_OFFLOAD != 0 && !args.no_offload && args.mem >= MIN_OFFLOAD_MEM)
        .collect();
    let backends = devices::open(&bound, &offload, &args.macs, &args.faults)?;
    Ok(Prepared { file, image, backends })
}
