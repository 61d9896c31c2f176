//! Boot arguments and a small parser for them.
//!
//! Written here because the usual parsers (`clap`, `lexopt`, `pico-args`)
//! need `std`. It accepts `--name value`, `--name=value` and bare flags, and
//! every error names the argument at fault.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// The boot arguments handed to the application, in order. They live as
/// long as the program (on the guest targets, in the boot-info area the
/// tender wrote), so they are borrowed, never copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    items: Vec<&'static str>,
}

/// A boot argument the application cannot accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// An argument no one asked for.
    Unknown(String),
    /// An option given without its value.
    MissingValue(&'static str),
    /// A flag given a value (`--verbose=yes`).
    UnexpectedValue(&'static str),
    /// A value that does not parse.
    Invalid {
        /// The option.
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An option that takes one value, given twice.
    Repeated(&'static str),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Unknown(a) => write!(f, "unknown argument '{a}'"),
            ArgError::MissingValue(n) => write!(f, "{n}: missing value"),
            ArgError::UnexpectedValue(n) => write!(f, "{n}: takes no value"),
            ArgError::Invalid { name, value, reason } => {
                write!(f, "{name}: invalid value '{value}': {reason}")
            }
            ArgError::Repeated(n) => write!(f, "{n}: given more than once"),
        }
    }
}

impl core::error::Error for ArgError {}

impl Args {
    /// Arguments from a list.
    pub fn new(items: Vec<&'static str>) -> Args {
        Args { items }
    }

    /// All arguments, in order.
    pub fn as_slice(&self) -> &[&'static str] {
        &self.items
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A parser that tracks which arguments were used.
    pub fn parser(&self) -> ArgParser<'_> {
        ArgParser { items: &self.items, used: alloc::vec![false; self.items.len()] }
    }
}

/// Pulls options out of [`Args`]; [`ArgParser::finish`] reports whatever
/// nobody asked for.
#[derive(Debug)]
pub struct ArgParser<'a> {
    items: &'a [&'static str],
    used: Vec<bool>,
}

impl<'a> ArgParser<'a> {
    /// Marks the first unused occurrence of `name` used and returns it:
    /// `Some(Some(value))`, `Some(None)` for a bare flag, `None` if absent.
    fn take_one(&mut self, name: &'static str, takes_value: bool) -> Result<Option<Option<&'static str>>, ArgError> {
        for i in 0..self.items.len() {
            if self.used[i] {
                continue;
            }
            let item = self.items[i];
            if item == name {
                self.used[i] = true;
                if !takes_value {
                    return Ok(Some(None));
                }
                let Some(next) = self.items.get(i + 1).filter(|_| !self.used[i + 1]) else {
                    return Err(ArgError::MissingValue(name));
                };
                self.used[i + 1] = true;
                return Ok(Some(Some(*next)));
            }
            if let Some(value) = item.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                self.used[i] = true;
                if !takes_value {
                    return Err(ArgError::UnexpectedValue(name));
                }
                return Ok(Some(Some(value)));
            }
        }
        Ok(None)
    }

    /// The one occurrence of `name`, refusing a second.
    fn take_single(&mut self, name: &'static str, takes_value: bool) -> Result<Option<Option<&'static str>>, ArgError> {
        let first = self.take_one(name, takes_value)?;
        if first.is_some() && self.take_one(name, takes_value)?.is_some() {
            return Err(ArgError::Repeated(name));
        }
        Ok(first)
    }

    /// Whether the flag `name` (e.g. `"--verbose"`) is present.
    pub fn flag(&mut self, name: &'static str) -> Result<bool, ArgError> {
        Ok(self.take_single(name, false)?.is_some())
    }

    /// The value of option `name`, parsed; `None` when absent.
    pub fn value<T>(&mut self, name: &'static str) -> Result<Option<T>, ArgError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.take_single(name, true)? {
            Some(Some(v)) => parse_value(name, v).map(Some),
            _ => Ok(None),
        }
    }

    /// Every value of a repeatable option, in order.
    pub fn values<T>(&mut self, name: &'static str) -> Result<Vec<T>, ArgError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let mut out = Vec::new();
        while let Some(Some(v)) = self.take_one(name, true)? {
            out.push(parse_value(name, v)?);
        }
        Ok(out)
    }

    /// The arguments nobody asked for, in order, consumed.
    pub fn rest(&mut self) -> Vec<&'static str> {
        let mut rest = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            if !self.used[i] {
                self.used[i] = true;
                rest.push(*item);
            }
        }
        rest
    }

    /// Fails on the first argument nobody asked for.
    pub fn finish(self) -> Result<(), ArgError> {
        match self.items.iter().zip(&self.used).find(|(_, used)| !**used) {
            Some((item, _)) => Err(ArgError::Unknown(String::from(*item))),
            None => Ok(()),
        }
    }
}

/// Removes option `name` (`--name value` or `--name=value`) from `args`
/// and returns its value; for settings a platform or library takes before
/// the application sees its arguments. Given twice, it is an error.
pub fn take_option(args: &mut Vec<&'static str>, name: &'static str) -> Result<Option<&'static str>, ArgError> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        let (value, taken) = if args[i] == name {
            (Some(*args.get(i + 1).ok_or(ArgError::MissingValue(name))?), 2)
        } else {
            (args[i].strip_prefix(name).and_then(|r| r.strip_prefix('=')), 1)
        };
        match value {
            Some(v) => {
                if found.is_some() {
                    return Err(ArgError::Repeated(name));
                }
                found = Some(v);
                args.drain(i..i + taken);
            }
            None => i += 1,
        }
    }
    Ok(found)
}

/// [`take_option`], parsed.
pub fn take_parsed<T>(args: &mut Vec<&'static str>, name: &'static str) -> Result<Option<T>, ArgError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    take_option(args, name)?.map(|v| parse_value(name, v)).transpose()
}

fn parse_value<T>(name: &'static str, value: &str) -> Result<T, ArgError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| ArgError::Invalid { name, value: value.into(), reason: alloc::format!("{e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn args(list: &[&'static str]) -> Args {
        Args::new(list.to_vec())
    }

    #[test]
    fn values_in_both_spellings() {
        let a = args(&["--ticks", "3", "--name=x", "--verbose"]);
        let mut p = a.parser();
        assert_eq!(p.value::<u32>("--ticks"), Ok(Some(3)));
        assert_eq!(p.value::<String>("--name"), Ok(Some("x".into())));
        assert_eq!(p.flag("--verbose"), Ok(true));
        assert_eq!(p.flag("--quiet"), Ok(false));
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn errors_name_the_argument() {
        let a = args(&["--ticks", "x"]);
        let err = a.parser().value::<u32>("--ticks").unwrap_err();
        assert_eq!(err.to_string(), "--ticks: invalid value 'x': invalid digit found in string");
        let a = args(&["--ticks"]);
        assert_eq!(a.parser().value::<u32>("--ticks"), Err(ArgError::MissingValue("--ticks")));
        let a = args(&["--ticks=1", "--ticks", "2"]);
        assert_eq!(a.parser().value::<u32>("--ticks"), Err(ArgError::Repeated("--ticks")));
        let a = args(&["--verbose=1"]);
        assert_eq!(a.parser().flag("--verbose"), Err(ArgError::UnexpectedValue("--verbose")));
        let a = args(&["--bogus"]);
        assert_eq!(a.parser().finish(), Err(ArgError::Unknown("--bogus".into())));
    }

    #[test]
    fn prefix_is_not_a_match() {
        let a = args(&["--tickset=1"]);
        let mut p = a.parser();
        assert_eq!(p.value::<u32>("--ticks"), Ok(None));
        assert_eq!(p.rest(), vec!["--tickset=1"]);
    }

    #[test]
    fn repeated_values_in_order() {
        let a = args(&["-p", "1", "-p=2"]);
        assert_eq!(a.parser().values::<u16>("-p"), Ok(vec![1, 2]));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(items in proptest::collection::vec(".{0,12}", 0..8)) {
            let a = Args::new(items.into_iter().map(|s| &*alloc::boxed::Box::leak(s.into_boxed_str())).collect());
            let mut p = a.parser();
            let _ = p.value::<u32>("--n");
            let _ = p.flag("--f");
            let _ = p.values::<i8>("--v");
            let _ = p.finish();
        }
    }
}
