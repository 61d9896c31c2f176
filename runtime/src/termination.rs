//! What `main` may return, and the exit status it becomes.

use core::fmt::Display;

use crate::Os;

/// A value `main` may return; becomes the exit status.
///
/// `()` is success; a `u8` is the status itself; `Err(e)` prints
/// `error: {e}` and exits with status 1.
pub trait Termination {
    /// The exit status, after printing whatever the value has to say.
    fn report(self, os: &Os) -> u8;
}

impl Termination for () {
    fn report(self, _: &Os) -> u8 {
        0
    }
}

impl Termination for u8 {
    fn report(self, _: &Os) -> u8 {
        self
    }
}

impl<T: Termination, E: Display> Termination for Result<T, E> {
    fn report(self, os: &Os) -> u8 {
        match self {
            Ok(v) => v.report(os),
            Err(e) => {
                os.print(format_args!("error: {e}\n"));
                1
            }
        }
    }
}
