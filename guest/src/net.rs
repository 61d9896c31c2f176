//! Network devices through the `NET_*` hypercalls.

use oasis_abi::{NetInfo as NetInfoArgs, NetIo, nr, result};
use oasis_devices::{DeviceError, NetDevice, NetInfo};

use crate::hypercall;

/// A declared network device.
#[derive(Debug)]
pub struct GuestNet {
    handle: u32,
    info: NetInfo,
}

impl GuestNet {
    /// The device with manifest handle `handle`. The tender stops a guest
    /// that names a handle it did not declare.
    pub fn open(handle: u32) -> GuestNet {
        let mut arg = NetInfoArgs { handle: u64::from(handle), ..Default::default() };
        hypercall::call(nr::NET_INFO, &mut arg);
        let m = arg.mac;
        GuestNet { handle, info: NetInfo { mac: [m[0], m[1], m[2], m[3], m[4], m[5]], mtu: arg.mtu.min(65535) as u16 } }
    }
}

impl NetDevice for GuestNet {
    fn info(&self) -> NetInfo {
        self.info
    }

    fn handle(&self) -> u32 {
        self.handle
    }

    fn receive(&mut self, buf: &mut [u8]) -> Result<Option<usize>, DeviceError> {
        let mut arg = NetIo {
            handle: u64::from(self.handle),
            data: buf.as_mut_ptr().addr() as u64,
            len: buf.len() as u64,
            ..Default::default()
        };
        hypercall::call(nr::NET_READ, &mut arg);
        match arg.result {
            result::OK => Ok(Some((arg.out_len as usize).min(buf.len()))),
            result::AGAIN => Ok(None),
            _ => Err(DeviceError),
        }
    }

    fn transmit(&mut self, frame: &[u8]) -> Result<bool, DeviceError> {
        let mut arg = NetIo {
            handle: u64::from(self.handle),
            data: frame.as_ptr().addr() as u64,
            len: frame.len() as u64,
            ..Default::default()
        };
        hypercall::call(nr::NET_WRITE, &mut arg);
        match arg.result {
            result::OK => Ok(true),
            result::AGAIN => Ok(false),
            _ => Err(DeviceError),
        }
    }
}
