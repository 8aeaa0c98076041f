//! How the library names a setting in the advice it prints or stores (payoff suggestions,
//! warnings). The library names settings by their key in backticks (`pretext.learning_rate`),
//! as a [`crate::config::RunConfig`] and its TOML files spell them. A front end that names
//! them otherwise (the command line, by its flags) installs its wording once at start, as a
//! program installs its logger for the `log` crate.

use std::sync::OnceLock;

static WORDING: OnceLock<fn(&str) -> String> = OnceLock::new();

/// Makes `wording` rewrite every piece of advice from now on. Only the first call counts.
pub fn install(wording: fn(&str) -> String) {
    let _ = WORDING.set(wording);
}

/// `text` in the installed wording (unchanged when none is installed).
pub fn worded(text: &str) -> String {
    WORDING.get().map_or_else(|| text.to_owned(), |wording| wording(text))
}
