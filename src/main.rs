use std::process::ExitCode;

use pretext::cli::Cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v2; `libmimalloc-sys` names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Never return freed memory to the OS (mimalloc's default is after 10 ms): training frees
    // and allocates the same large activations every step, and fresh pages cost a page fault
    // and the kernel's zeroing each, ~5% of a SimCLR epoch. Peak RSS stays the same order.
    // SAFETY: sets an option before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // Rust ignores SIGPIPE, so `pretext ... | head` panicked on the first print after `head`
    // left. End quietly instead, as other command-line tools do (a run stopped so resumes).
    // SAFETY: restores the default action of one signal before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::from_env();
    // The library names settings by key; the command line names them by flag.
    pretext::wording::install(pretext::cli::flags::render);
    // A device running out of memory panics in Burn's GPU runtimes. A training step turns that
    // into an error naming the batch size; anywhere else (inference) it ends up here. Either way
    // it is one line, not a panic's report.
    pretext::device::quiet_out_of_memory_panics();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli.execute())) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {}", pretext::cli::flags::describe(&e));
            ExitCode::from(pretext::cli::exit::status(&e))
        }
        Err(panic) if pretext::device::out_of_memory(&*panic) => {
            eprintln!("error: the device ran out of memory outside training (evaluating or predicting); free its memory, or run the command with --device cpu");
            ExitCode::from(pretext::cli::exit::OUT_OF_MEMORY)
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
