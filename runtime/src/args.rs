//! Boot arguments and a small parser for them.
//!
//! Written here because the usual parsers (`clap`, `lexopt`, `pico-args`)
//! need `std`. It accepts `--name value`, `--name=value` and bare flags, and
//! every error names the argument at fault.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// The boot arguments handed to the application, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    items: Vec<String>,
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
    pub fn new(items: Vec<String>) -> Args {
        Args { items }
    }

    /// All arguments, in order.
    pub fn as_slice(&self) -> &[String] {
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
    items: &'a [String],
    used: Vec<bool>,
}

/// One occurrence of an option: its value, if it had an `=value` or a
/// following argument was taken as its value.
struct Occurrence<'a> {
    value: Option<&'a str>,
}

impl<'a> ArgParser<'a> {
    fn occurrences(&mut self, name: &'static str, takes_value: bool) -> Result<Vec<Occurrence<'a>>, ArgError> {
        let mut found = Vec::new();
        let mut i = 0;
        while i < self.items.len() {
            if self.used[i] {
                i += 1;
                continue;
            }
            let item = self.items[i].as_str();
            if item == name {
                self.used[i] = true;
                if takes_value {
                    let Some(next) = self.items.get(i + 1).filter(|_| !self.used[i + 1]) else {
                        return Err(ArgError::MissingValue(name));
                    };
                    self.used[i + 1] = true;
                    found.push(Occurrence { value: Some(next.as_str()) });
                    i += 2;
                    continue;
                }
                found.push(Occurrence { value: None });
            } else if let Some(value) = item.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                self.used[i] = true;
                if !takes_value {
                    return Err(ArgError::UnexpectedValue(name));
                }
                found.push(Occurrence { value: Some(value) });
            }
            i += 1;
        }
        Ok(found)
    }

    /// Whether the flag `name` (e.g. `"--verbose"`) is present.
    pub fn flag(&mut self, name: &'static str) -> Result<bool, ArgError> {
        let found = self.occurrences(name, false)?;
        if found.len() > 1 {
            return Err(ArgError::Repeated(name));
        }
        Ok(!found.is_empty())
    }

    /// The value of option `name`, parsed; `None` when absent.
    pub fn value<T>(&mut self, name: &'static str) -> Result<Option<T>, ArgError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let found = self.occurrences(name, true)?;
        if found.len() > 1 {
            return Err(ArgError::Repeated(name));
        }
        match found.first().and_then(|o| o.value) {
            None => Ok(None),
            Some(v) => parse_value(name, v).map(Some),
        }
    }

    /// Every value of a repeatable option, in order.
    pub fn values<T>(&mut self, name: &'static str) -> Result<Vec<T>, ArgError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.occurrences(name, true)?.into_iter().filter_map(|o| o.value).map(|v| parse_value(name, v)).collect()
    }

    /// The arguments nobody asked for, in order, consumed.
    pub fn rest(&mut self) -> Vec<&'a str> {
        let mut rest = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            if !self.used[i] {
                self.used[i] = true;
                rest.push(item.as_str());
            }
        }
        rest
    }

    /// Fails on the first argument nobody asked for.
    pub fn finish(self) -> Result<(), ArgError> {
        match self.items.iter().zip(&self.used).find(|(_, used)| !**used) {
            Some((item, _)) => Err(ArgError::Unknown(item.clone())),
            None => Ok(()),
        }
    }
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

    fn args(list: &[&str]) -> Args {
        Args::new(list.iter().map(|s| String::from(*s)).collect())
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
            let a = Args::new(items);
            let mut p = a.parser();
            let _ = p.value::<u32>("--n");
            let _ = p.flag("--f");
            let _ = p.values::<i8>("--v");
            let _ = p.finish();
        }
    }
}
