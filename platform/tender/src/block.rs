//! Block devices through the `BLOCK_*` hypercalls: one call per request,
//! however many blocks it covers. The hypercalls are synchronous, so each
//! request's future completes on its first poll.

use oasis_abi::{BlockFlush, BlockInfo as BlockInfoArgs, BlockIo, Hypercall, op, result};
use oasis_devices::{BlockDevice, BlockInfo, DeviceError};

use crate::hypercall;

/// A declared block device.
#[derive(Debug)]
pub struct GuestBlock {
    handle: u32,
    info: BlockInfo,
}

impl GuestBlock {
    /// The device with manifest handle `handle`. The tender stops a guest
    /// that names a handle it did not declare.
    pub fn open(handle: u32) -> GuestBlock {
        let mut arg = BlockInfoArgs { handle: u64::from(handle), ..Default::default() };
        hypercall::call::<op::BlockInfo>(&mut arg);
        GuestBlock {
            handle,
            info: BlockInfo { capacity: arg.capacity, block_size: arg.block_size.min(u64::from(u32::MAX)) as u32 },
        }
    }

    fn io<H: Hypercall<Arg = BlockIo>>(&mut self, offset: u64, data: u64, len: usize) -> Result<(), DeviceError> {
        let mut arg = BlockIo { handle: u64::from(self.handle), offset, data, len: len as u64, result: 0 };
        hypercall::call::<H>(&mut arg);
        if arg.result == result::OK { Ok(()) } else { Err(DeviceError::Io) }
    }
}

impl BlockDevice for GuestBlock {
    fn info(&self) -> BlockInfo {
        self.info
    }

    async fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.io::<op::BlockRead>(offset, buf.as_mut_ptr().addr() as u64, buf.len())
    }

    async fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.io::<op::BlockWrite>(offset, data.as_ptr().addr() as u64, data.len())
    }

    async fn flush(&mut self) -> Result<(), DeviceError> {
        let mut arg = BlockFlush { handle: u64::from(self.handle), result: 0 };
        hypercall::call::<op::BlockFlush>(&mut arg);
        if arg.result == result::OK { Ok(()) } else { Err(DeviceError::Io) }
    }
}
