use std::process::ExitCode;

use pretext::cli::Cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::from_env();
    // A device running out of memory panics in Burn's GPU runtimes. A training step turns that
    // into an error naming the batch size; anywhere else (inference) it ends up here. Either way
    // it is one line, not a panic's report.
    pretext::device::quiet_out_of_memory_panics();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli.execute())) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
        Err(panic) if pretext::device::out_of_memory(&*panic) => {
            eprintln!("error: the device ran out of memory outside training (evaluating or predicting); free its memory, or run the command with --device cpu");
            ExitCode::from(pretext::Error::OUT_OF_MEMORY_EXIT_CODE)
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
