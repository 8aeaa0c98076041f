//! Ctrl-C as a request, not a kill: the trainer finishes its step, saves a checkpoint and
//! stops; a second Ctrl-C quits at once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_CODE: u8 = 130;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Turns Ctrl-C (and SIGTERM) into a stop request for the trainer. Commands that do not
/// train keep the default behaviour by not calling this.
pub fn catch_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_CODE.into());
        }
        eprintln!("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        // Training still works; only the graceful stop is lost, so say so and go on.
        eprintln!("warning: Ctrl-C will end the run without saving a checkpoint ({e})");
    }
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
