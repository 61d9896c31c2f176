//! `embedded_io_async` over an `oasis-net` TCP stream, so the connection
//! loop (generic over those traits) serves the stack's connections.

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use oasis_net::{NetError, TcpStream};

/// A network error as an `embedded_io` error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoError(pub NetError);

impl core::fmt::Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl core::error::Error for IoError {}

impl embedded_io_async::Error for IoError {
    fn kind(&self) -> ErrorKind {
        match self.0 {
            NetError::Reset => ErrorKind::ConnectionReset,
            NetError::TimedOut => ErrorKind::TimedOut,
            NetError::Refused => ErrorKind::ConnectionRefused,
            NetError::Closed => ErrorKind::NotConnected,
            _ => ErrorKind::Other,
        }
    }
}

/// A TCP stream seen through `embedded_io_async`.
#[derive(Debug)]
pub struct TcpIo<S>(pub S);

impl<S: TcpStream> ErrorType for TcpIo<S> {
    type Error = IoError;
}

impl<S: TcpStream> Read for TcpIo<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.0.read(buf).await.map_err(IoError)
    }
}

impl<S: TcpStream> Write for TcpIo<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        self.0.write(buf).await.map_err(IoError)
    }

    async fn flush(&mut self) -> Result<(), IoError> {
        // The stack sends what it is given; waiting for the peer's
        // acknowledgement (the stream's `flush`) would cost a round trip
        // per response.
        Ok(())
    }
}
