use clap::Args;

use crate::error::Result;
use crate::methods::MethodName;

/// Flags of `pretext methods` (none).
#[derive(Debug, Args)]
pub struct MethodsArgs {}

pub fn execute(_args: MethodsArgs) -> Result<()> {
    for method in MethodName::ALL {
        println!("{:<13} {}", method.to_string(), method.description());
    }
    println!("\nPick one with --method NAME (run, pretrain, sweep; sweep --methods a,b compares several).");
    Ok(())
}
