//! Serving hypercalls: the one place where guest requests meet the host.
//!
//! Both tenders deliver calls here (hvt from I/O-port exits, spt from the
//! guest calling the tender's entry). Every argument is checked against the
//! ABI before anything is done; a broken rule stops the guest with a
//! [`Violation`]. Nothing in this module allocates, because on spt it runs
//! inside the seccomp sandbox.

#![allow(clippy::result_large_err)] // see `Outcome`

use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd};

use oasis_abi::layout::GUEST_MIN_ADDR;
use oasis_abi::{
    Abort, BLOCK_SIZE, BlockFlush, BlockInfo, BlockIo, CONSOLE_WRITE_MAX, ConsoleWrite, DeviceKind, Exit, Fault,
    Hypercall, MAX_ARG_SIZE, NET_BATCH_MAX, NetBatch, NetFrame, NetInfo, NetIo, Wire, Yield, nr, op, result,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use crate::devices::Backend;
use crate::memory::AccessMap;
use crate::stats::Stats;
use crate::stop::{AbortMessage, FaultKind, Stop, Violation};

/// Monotonic host time in nanoseconds (the vDSO; no system call).
pub fn host_monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write; both clocks always exist.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// Wall-clock host time in nanoseconds since the epoch.
pub fn host_wall_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// A zero timeout, for polling without sleeping.
static ZERO: libc::timespec = libc::timespec { tv_sec: 0, tv_nsec: 0 };

/// The hypercall server of one guest.
pub struct Hypercalls {
    mem: GuestMemoryMmap,
    access: AccessMap,
    console: ManuallyDrop<File>,
    origin_ns: u64,
    /// The longest a yield sleeps (for fuzzing; `None` normally).
    max_sleep_ns: Option<u64>,
    devices: Vec<Backend>,
    /// One entry per device with input to wait for, and its handle.
    poll_fds: Vec<libc::pollfd>,
    poll_handles: Vec<u32>,
    /// Counts of calls served.
    pub stats: Stats,
}

/// What a handled call asks of the run loop. `Stop` is large (it carries
/// an abort message inline) because boxing it would allocate inside the
/// sandbox; it is returned once per guest, so the size costs nothing.
pub type Outcome = Result<(), Stop>;

impl Hypercalls {
    /// A server for a guest whose memory is `mem`, of which calls may name
    /// what `access` allows, whose declared devices are `devices` (in
    /// handle order), and whose monotonic time zero is host monotonic time
    /// `origin_ns`. Console output goes to standard output.
    pub fn new(mem: GuestMemoryMmap, access: AccessMap, devices: Vec<Backend>, origin_ns: u64) -> Hypercalls {
        let (poll_fds, poll_handles) = devices
            .iter()
            .enumerate()
            .filter_map(|(h, d)| {
                d.poll_fd().map(|fd| (libc::pollfd { fd, events: libc::POLLIN, revents: 0 }, h as u32))
            })
            .unzip();
        Hypercalls {
            mem,
            access,
            // SAFETY: fd 1 is this process's standard output, open for its
            // whole life; ManuallyDrop keeps us from ever closing it.
            console: ManuallyDrop::new(unsafe { File::from_raw_fd(1) }),
            origin_ns,
            max_sleep_ns: None,
            devices,
            poll_fds,
            poll_handles,
            stats: Stats::default(),
        }
    }

    /// Sends console output to `fd` instead of standard output (tests and
    /// fuzzing use /dev/null). The descriptor is never closed.
    pub fn with_console(mut self, fd: std::os::fd::RawFd) -> Hypercalls {
        // SAFETY: the caller hands over an open descriptor it keeps open for
        // this server's life; ManuallyDrop keeps us from closing it.
        self.console = ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
        self
    }

    /// Caps every yield's sleep at `max` (fuzzing drives the server with
    /// any deadline, and must not wait for it).
    pub fn with_max_sleep(mut self, max: std::time::Duration) -> Hypercalls {
        self.max_sleep_ns = Some(max.as_nanos().min(u128::from(u64::MAX)) as u64);
        self
    }

    /// What the faulty links did, per device handle.
    pub fn fault_counts(&self) -> impl Iterator<Item = (usize, crate::faults::FaultCounts)> + '_ {
        self.devices.iter().enumerate().filter_map(|(h, d)| match d {
            Backend::Net(n) => n.link.fault_counts().map(|c| (h, c)),
            Backend::Block(_) => None,
        })
    }

    /// The declared devices' host sides, in handle order.
    pub fn devices(&self) -> &[Backend] {
        &self.devices
    }

    /// Host monotonic time at the guest's monotonic zero.
    pub fn origin_ns(&self) -> u64 {
        self.origin_ns
    }

    /// The guest's memory.
    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// How many descriptors a yield polls (one per net device).
    pub fn poll_count(&self) -> usize {
        self.poll_fds.len()
    }

    /// Serves call `number` whose argument struct is at `addr`.
    pub fn handle(&mut self, number: u64, addr: u64) -> Outcome {
        let outcome = self.serve(number, addr);
        // A yield's wait ends early on the supervisor's request too.
        if outcome.is_ok() && crate::supervise::stop_asked() {
            return Err(Stop::Asked);
        }
        outcome
    }

    fn serve(&mut self, number: u64, addr: u64) -> Outcome {
        self.stats.call(number);
        match number {
            nr::CONSOLE_WRITE => self.call::<op::ConsoleWrite>(addr, Self::console_write),
            nr::CLOCK_WALL => self.call::<op::ClockWall>(addr, |_, arg| {
                arg.ns = host_wall_ns();
                Ok(())
            }),
            nr::CLOCK_MONOTONIC => self.call::<op::ClockMonotonic>(addr, |s, arg| {
                arg.ns = host_monotonic_ns().saturating_sub(s.origin_ns);
                Ok(())
            }),
            nr::YIELD => self.call::<op::Yield>(addr, Self::yield_),
            nr::EXIT => self.call::<op::Exit>(addr, |_, arg: &mut Exit| {
                let status = u8::try_from(arg.status).map_err(|_| Violation::BadExitStatus { status: arg.status })?;
                Err(Stop::Exit(status))
            }),
            nr::ABORT => self.call::<op::Abort>(addr, Self::abort),
            nr::FAULT => self.call::<op::Fault>(addr, |_, arg: &mut Fault| {
                let vector = u8::try_from(arg.vector).unwrap_or(u8::MAX);
                Err(Stop::Fault(crate::stop::Fault {
                    kind: FaultKind::Exception { vector, error_code: arg.error_code },
                    rip: arg.rip,
                    address: (vector == 14).then_some(arg.address),
                }))
            }),
            nr::NET_INFO => self.call::<op::NetInfo>(addr, Self::net_info),
            nr::NET_WRITE => self.call::<op::NetWrite>(addr, Self::net_write),
            nr::NET_READ => self.call::<op::NetRead>(addr, Self::net_read),
            nr::NET_WRITE_BATCH => self.call::<op::NetWriteBatch>(addr, Self::net_write_batch),
            nr::NET_READ_BATCH => self.call::<op::NetReadBatch>(addr, Self::net_read_batch),
            nr::BLOCK_INFO => self.call::<op::BlockInfo>(addr, Self::block_info),
            nr::BLOCK_READ => self.call::<op::BlockRead>(addr, Self::block_io::<op::BlockRead>),
            nr::BLOCK_WRITE => self.call::<op::BlockWrite>(addr, Self::block_io::<op::BlockWrite>),
            nr::BLOCK_FLUSH => self.call::<op::BlockFlush>(addr, Self::block_flush),
            _ => Err(Violation::UnknownCall { number }.into()),
        }
    }

    /// Serves call `H`: reads its whole argument struct at `addr`, lets
    /// `serve` check and act on it, and writes the whole struct back.
    fn call<H: Hypercall>(&mut self, addr: u64, serve: impl FnOnce(&mut Self, &mut H::Arg) -> Outcome) -> Outcome {
        let mut arg = self.read_arg::<H>(addr)?;
        serve(self, &mut arg)?;
        self.write_wire(H::NR, addr, &arg)
    }

    /// Reads call `H`'s argument struct at `addr`, after checking it is
    /// aligned and lies in memory the tender may read and write.
    fn read_arg<H: Hypercall>(&self, addr: u64) -> Result<H::Arg, Stop> {
        let size = <H::Arg as Wire>::SIZE as u64;
        if !addr.is_multiple_of(8) || addr < GUEST_MIN_ADDR || !self.access.can_write(addr, size) {
            return Err(Violation::BadArgument { call: H::NR, addr }.into());
        }
        self.read_wire(H::NR, addr)
    }

    /// Reads a struct at `addr` (checked by the caller) in one access:
    /// each guest-memory access looks up its region, which is most of a
    /// small call's cost in the tender.
    fn read_wire<T: Wire>(&self, call: u64, addr: u64) -> Result<T, Stop> {
        let mut buf = [0u8; MAX_ARG_SIZE];
        self.mem
            .read_slice(&mut buf[..T::SIZE], GuestAddress(addr))
            .map_err(|_| Stop::from(Violation::BadArgument { call, addr }))?;
        Ok(T::decode(&buf))
    }

    /// Writes a struct at `addr` (checked by the caller) in one access.
    fn write_wire<T: Wire>(&self, call: u64, addr: u64, value: &T) -> Outcome {
        let mut buf = [0u8; MAX_ARG_SIZE];
        value.encode(&mut buf);
        self.mem
            .write_slice(&buf[..T::SIZE], GuestAddress(addr))
            .map_err(|_| Violation::BadArgument { call, addr }.into())
    }

    /// Checks `len` bytes at `addr` lie in guest memory the tender may read
    /// (or write, for `write`).
    fn check_buffer(&self, number: u64, addr: u64, len: u64, write: bool) -> Outcome {
        let ok = if write { self.access.can_write(addr, len) } else { self.access.can_read(addr, len) };
        if addr < GUEST_MIN_ADDR || !ok {
            return Err(Violation::BadBuffer { call: number, addr, len }.into());
        }
        Ok(())
    }

    fn check_handle(&self, number: u64, handle: u64, kind: DeviceKind) -> Outcome {
        match usize::try_from(handle).ok().and_then(|h| self.devices.get(h)) {
            None => Err(Violation::UndeclaredHandle { call: number, handle }.into()),
            Some(d) if d.kind() != kind => Err(Violation::WrongDeviceKind { call: number, handle }.into()),
            Some(_) => Ok(()),
        }
    }

    fn net(&mut self, number: u64, handle: u64) -> Result<&mut crate::devices::NetBackend, Stop> {
        self.check_handle(number, handle, DeviceKind::Net)?;
        match &mut self.devices[handle as usize] {
            Backend::Net(n) => Ok(n),
            Backend::Block(_) => Err(Violation::WrongDeviceKind { call: number, handle }.into()),
        }
    }

    fn block(&self, number: u64, handle: u64) -> Result<&crate::devices::BlockBackend, Stop> {
        self.check_handle(number, handle, DeviceKind::Block)?;
        match &self.devices[handle as usize] {
            Backend::Block(b) => Ok(b),
            Backend::Net(_) => Err(Violation::WrongDeviceKind { call: number, handle }.into()),
        }
    }

    fn block_info(&mut self, arg: &mut BlockInfo) -> Outcome {
        arg.capacity = self.block(nr::BLOCK_INFO, arg.handle)?.capacity;
        arg.block_size = BLOCK_SIZE;
        Ok(())
    }

    /// `BLOCK_READ` and `BLOCK_WRITE`: one `pread`/`pwrite` straight
    /// between the file and guest memory, however many blocks.
    fn block_io<H: Hypercall<Arg = BlockIo>>(&mut self, arg: &mut BlockIo) -> Outcome {
        let (number, BlockIo { handle, offset, data, len, .. }) = (H::NR, *arg);
        let capacity = self.block(number, handle)?.capacity;
        let bs = BLOCK_SIZE;
        if len == 0 || !len.is_multiple_of(bs) {
            return Err(Violation::BadLength {
                call: number,
                value: len,
                rule: "length a non-zero multiple of the block size",
            }
            .into());
        }
        if !offset.is_multiple_of(bs) {
            return Err(Violation::BadLength {
                call: number,
                value: offset,
                rule: "offset a multiple of the block size",
            }
            .into());
        }
        if offset.checked_add(len).is_none_or(|end| end > capacity) {
            return Err(Violation::BadLength {
                call: number,
                value: offset,
                rule: "offset + length within the capacity",
            }
            .into());
        }
        let write = number == nr::BLOCK_WRITE;
        self.check_buffer(number, data, len, !write)?;
        let slice = self.mem.get_slice(GuestAddress(data), len as usize).map_err(|_| Violation::BadBuffer {
            call: number,
            addr: data,
            len,
        })?;
        let fd = self.block(number, handle)?.file().as_raw_fd();
        let mut done = 0u64;
        let mut result = result::OK;
        while done < len {
            // In pieces whose length and offset the sandbox allows (see
            // `devices::BLOCK_PIECE_MAX`).
            let piece = crate::devices::block_piece(len - done);
            // SAFETY: `slice` is a checked view of `len` bytes of guest memory
            // (mapped for the tender's whole life); the piece lies inside it,
            // and inside the capacity checked above.
            let n = unsafe {
                let ptr = slice.ptr_guard_mut().as_ptr().add(done as usize);
                let at = (offset + done) as libc::off_t;
                if write {
                    libc::pwrite(fd, ptr.cast(), piece as usize, at)
                } else {
                    libc::pread(fd, ptr.cast(), piece as usize, at)
                }
            };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // A short transfer leaves a remainder the sandbox does not
            // allow: report it as the device's failure.
            if n != piece as isize {
                result = result::IO_ERROR;
                break;
            }
            done += piece;
        }
        arg.result = result;
        Ok(())
    }

    fn block_flush(&mut self, arg: &mut BlockFlush) -> Outcome {
        let fd = self.block(nr::BLOCK_FLUSH, arg.handle)?.file().as_raw_fd();
        // SAFETY: fdatasync on an open descriptor we own.
        let ok = unsafe { libc::fdatasync(fd) } == 0;
        arg.result = if ok { result::OK } else { result::IO_ERROR };
        Ok(())
    }

    fn net_info(&mut self, arg: &mut NetInfo) -> Outcome {
        let net = self.net(nr::NET_INFO, arg.handle)?;
        arg.mac = [0; 8];
        arg.mac[..6].copy_from_slice(&net.mac);
        arg.mtu = u64::from(net.mtu);
        arg.offload = u64::from(net.offload());
        arg.max_frame = net.max_frame();
        Ok(())
    }

    /// Sends one frame of `len` bytes at `data` (checked here) on `handle`
    /// (checked by the caller); returns a result code.
    fn send_frame(&mut self, number: u64, handle: u64, data: u64, len: u64) -> Result<u64, Stop> {
        let Backend::Net(net) = &self.devices[handle as usize] else { return Err(Stop::Internal("not a net device")) };
        if len > net.max_frame() {
            return Err(Violation::BadLength {
                call: number,
                value: len,
                rule: "a frame is at most NET_INFO's max_frame bytes",
            }
            .into());
        }
        self.check_buffer(number, data, len, false)?;
        let bad = || Stop::from(Violation::BadBuffer { call: number, addr: data, len });
        if net.offload() {
            let mut header = [0u8; oasis_abi::net_offload::HEADER_LEN];
            if len < header.len() as u64 {
                return Err(Violation::BadOffloadHeader { call: number, why: "a frame shorter than its header" }.into());
            }
            self.mem.read_slice(&mut header, GuestAddress(data)).map_err(|_| bad())?;
            crate::devices::check_offload_header(&header, len)
                .map_err(|why| Stop::from(Violation::BadOffloadHeader { call: number, why }))?;
        }
        let Hypercalls { mem, devices, .. } = self;
        let Backend::Net(net) = &mut devices[handle as usize] else { return Err(Stop::Internal("not a net device")) };
        let slice = mem.get_slice(GuestAddress(data), len as usize).map_err(|_| bad())?;
        Ok(net.link.send(&slice))
    }

    /// Receives one frame into the `cap` bytes at `data` (checked here) on
    /// `handle` (checked by the caller); returns its length and a result
    /// code.
    fn receive_frame(&mut self, number: u64, handle: u64, data: u64, cap: u64) -> Result<(u64, u64), Stop> {
        let Backend::Net(net) = &self.devices[handle as usize] else { return Err(Stop::Internal("not a net device")) };
        if cap < net.max_frame() {
            return Err(Violation::BadLength {
                call: number,
                value: cap,
                rule: "a read buffer holds at least NET_INFO's max_frame bytes",
            }
            .into());
        }
        self.check_buffer(number, data, cap, true)?;
        let bad = || Stop::from(Violation::BadBuffer { call: number, addr: data, len: cap });
        let Hypercalls { mem, devices, .. } = self;
        let Backend::Net(net) = &mut devices[handle as usize] else { return Err(Stop::Internal("not a net device")) };
        // One frame is at most max_frame bytes: a read asks for no more
        // (and the sandbox allows no more).
        let len = cap.min(net.max_frame());
        let mut slice = mem.get_slice(GuestAddress(data), len as usize).map_err(|_| bad())?;
        Ok(net.link.receive(&mut slice))
    }

    fn net_write(&mut self, arg: &mut NetIo) -> Outcome {
        let number = nr::NET_WRITE;
        self.net(number, arg.handle)?;
        arg.result = self.send_frame(number, arg.handle, arg.data, arg.len)?;
        arg.out_len = 0;
        Ok(())
    }

    fn net_read(&mut self, arg: &mut NetIo) -> Outcome {
        let number = nr::NET_READ;
        self.net(number, arg.handle)?;
        (arg.out_len, arg.result) = self.receive_frame(number, arg.handle, arg.data, arg.len)?;
        Ok(())
    }

    /// Checks a batch's device and frame table.
    fn check_batch(&mut self, number: u64, arg: &NetBatch, writable: bool) -> Outcome {
        self.net(number, arg.handle)?;
        if arg.count > NET_BATCH_MAX {
            return Err(Violation::BadLength {
                call: number,
                value: arg.count,
                rule: "a batch holds at most 64 frames",
            }
            .into());
        }
        if !arg.frames.is_multiple_of(8) {
            return Err(Violation::BadArgument { call: number, addr: arg.frames }.into());
        }
        self.check_buffer(number, arg.frames, arg.count * NetFrame::SIZE as u64, writable)
    }

    fn net_write_batch(&mut self, arg: &mut NetBatch) -> Outcome {
        let number = nr::NET_WRITE_BATCH;
        self.check_batch(number, arg, false)?;
        let (mut sent, mut result) = (0, result::OK);
        for i in 0..arg.count {
            let frame: NetFrame = self.read_wire(number, arg.frames + i * NetFrame::SIZE as u64)?;
            result = self.send_frame(number, arg.handle, frame.data, frame.len)?;
            if result != result::OK {
                break;
            }
            sent += 1;
        }
        arg.out_count = sent;
        arg.result = result;
        Ok(())
    }

    fn net_read_batch(&mut self, arg: &mut NetBatch) -> Outcome {
        let number = nr::NET_READ_BATCH;
        self.check_batch(number, arg, true)?;
        let mut received = 0;
        let mut result = result::AGAIN;
        for i in 0..arg.count {
            let at = arg.frames + i * NetFrame::SIZE as u64;
            let mut frame: NetFrame = self.read_wire(number, at)?;
            let (got, r) = self.receive_frame(number, arg.handle, frame.data, frame.len)?;
            if r != result::OK {
                if r == result::IO_ERROR && received == 0 {
                    result = r;
                }
                break;
            }
            frame.len = got;
            self.write_wire(number, at, &frame)?;
            received += 1;
            result = result::OK;
        }
        arg.out_count = received;
        arg.result = result;
        Ok(())
    }

    fn console_write(&mut self, arg: &mut ConsoleWrite) -> Outcome {
        let ConsoleWrite { data, len } = *arg;
        if len > CONSOLE_WRITE_MAX {
            return Err(Violation::ConsoleTooLong { len }.into());
        }
        self.check_buffer(nr::CONSOLE_WRITE, data, len, false)?;
        // The guest's output is best effort: a closed or full stdout loses
        // bytes, it does not stop the guest.
        let _ = self.mem.write_all_volatile_to(GuestAddress(data), &mut *self.console, len as usize);
        Ok(())
    }

    fn yield_(&mut self, arg: &mut Yield) -> Outcome {
        // The supervisor ends the run at `--timeout`, from outside.
        let mut until = self.origin_ns.saturating_add(arg.deadline_ns);
        if let Some(max) = self.max_sleep_ns {
            until = until.min(host_monotonic_ns().saturating_add(max));
        }
        let now = host_monotonic_ns();
        let wait = until.saturating_sub(now);
        let ts = libc::timespec {
            tv_sec: (wait / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
            tv_nsec: (wait % 1_000_000_000) as libc::c_long,
        };
        let ts_ptr = if until == u64::MAX { std::ptr::null() } else { &ts as *const libc::timespec };
        let mut pending = 0u64;
        for (h, d) in self.devices.iter_mut().enumerate() {
            let Backend::Net(n) = d else { continue };
            n.link.before_sleep();
            if n.link.input_held() {
                pending |= 1 << h;
            }
        }
        let ts_ptr = if pending != 0 { &ZERO as *const libc::timespec } else { ts_ptr };
        for p in &mut self.poll_fds {
            p.revents = 0;
        }
        if !self.poll_fds.is_empty() || wait > 0 {
            // SAFETY: `poll_fds` is a live array of pollfd of the length given;
            // `ts_ptr` is null or points at `ts`, alive for the call. EINTR
            // returns early, which yield allows.
            unsafe {
                libc::ppoll(self.poll_fds.as_mut_ptr(), self.poll_fds.len() as libc::nfds_t, ts_ptr, std::ptr::null())
            };
        }
        let mut ready = pending;
        for (p, &h) in self.poll_fds.iter().zip(&self.poll_handles) {
            if p.revents != 0 {
                ready |= 1 << h;
            }
        }
        arg.ready = ready;
        Ok(())
    }

    fn abort(&mut self, arg: &mut Abort) -> Outcome {
        let Abort { message, len } = *arg;
        if message == 0 {
            return Err(Stop::Abort(AbortMessage::new(b"")));
        }
        let len = len.min(oasis_abi::ABORT_MESSAGE_MAX).min(crate::stop::ABORT_MESSAGE_KEEP as u64);
        self.check_buffer(nr::ABORT, message, len, false)?;
        let mut buf = [0u8; crate::stop::ABORT_MESSAGE_KEEP];
        let buf = &mut buf[..len as usize];
        self.mem.read_slice(buf, GuestAddress(message)).map_err(|_| Violation::BadBuffer {
            call: nr::ABORT,
            addr: message,
            len,
        })?;
        Err(Stop::Abort(AbortMessage::new(buf)))
    }
}

/// Size of call `number`'s argument struct (8 for unknown numbers, which
/// are refused before it matters).
pub fn arg_size(number: u64) -> u64 {
    oasis_abi::arg_size(number).unwrap_or(8) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stop::Stop;
    use proptest::prelude::*;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    const MEM: u64 = 256 << 10;

    fn server() -> (Hypercalls, File) {
        let mem: GuestMemoryMmap = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM as usize)]).unwrap();
        let null = File::options().write(true).open("/dev/null").unwrap();
        let h = Hypercalls::new(mem, AccessMap::flat(MEM), vec![], host_monotonic_ns()).with_console(null.as_raw_fd());
        (h, null)
    }

    fn snapshot(h: &Hypercalls) -> Vec<u8> {
        let mut v = vec![0u8; MEM as usize];
        h.memory().read_slice(&mut v, GuestAddress(0)).unwrap();
        v
    }

    #[test]
    fn console_exit_and_clock_round_trip() {
        let (mut h, _null) = server();
        let arg = 0x2_0000;
        h.memory().write_slice(b"hi", GuestAddress(0x3_0000)).unwrap();
        h.memory().write_obj(0x3_0000u64, GuestAddress(arg)).unwrap();
        h.memory().write_obj(2u64, GuestAddress(arg + 8)).unwrap();
        assert_eq!(h.handle(nr::CONSOLE_WRITE, arg), Ok(()));
        assert_eq!(h.handle(nr::CLOCK_WALL, arg), Ok(()));
        assert!(h.memory().read_obj::<u64>(GuestAddress(arg)).unwrap() > 1_600_000_000_000_000_000);
        h.memory().write_obj(7u64, GuestAddress(arg)).unwrap();
        assert_eq!(h.handle(nr::EXIT, arg), Err(Stop::Exit(7)));
        assert_eq!(h.stats.calls(nr::CONSOLE_WRITE), 1);
    }

    #[test]
    fn yield_sleeps_until_its_deadline() {
        let (mut h, _null) = server();
        let arg = 0x2_0000;
        // In the past: returns at once, nothing ready.
        h.memory().write_obj(0u64, GuestAddress(arg)).unwrap();
        assert_eq!(h.handle(nr::YIELD, arg), Ok(()));
        assert_eq!(h.memory().read_obj::<u64>(GuestAddress(arg + 8)).unwrap(), 0);
        // 20 ms ahead: not back before then (no device can wake it).
        let start = std::time::Instant::now();
        let deadline = host_monotonic_ns() - h.origin_ns() + 20_000_000;
        h.memory().write_obj(deadline, GuestAddress(arg)).unwrap();
        assert_eq!(h.handle(nr::YIELD, arg), Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(19));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// Any call with any argument address and any argument words: the
        /// server never panics, and guest memory changes, if at all, only
        /// inside the argument struct it was given.
        #[test]
        fn hostile_calls_touch_only_their_argument(
            number in 0u64..40,
            addr in prop_oneof![0u64..MEM + 64, Just(u64::MAX - 8), (GUEST_MIN_ADDR / 8..MEM / 8).prop_map(|w| w * 8)],
            words in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..MEM, Just(0u64)], 5),
        ) {
            // Any words include a yield's deadline years ahead: cap the sleep.
            let (h, _null) = server();
            let mut h = h.with_max_sleep(Duration::from_millis(1));
            if addr % 8 == 0 && addr >= GUEST_MIN_ADDR && addr + 40 <= MEM {
                for (i, w) in words.iter().enumerate() {
                    h.memory().write_obj(*w, GuestAddress(addr + 8 * i as u64)).unwrap();
                }
            }
            let before = snapshot(&h);
            let _ = h.handle(number, addr);
            let after = snapshot(&h);
            let size = arg_size(number);
            for (i, (a, b)) in before.iter().zip(&after).enumerate() {
                let i = i as u64;
                prop_assert!(a == b || (i >= addr && i < addr.saturating_add(size)), "byte {i:#x} changed outside the argument");
            }
        }
    }
}
