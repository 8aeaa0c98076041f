use clap::Args;

use crate::cli::methods::print_table;
use crate::cli::choice::choice;
use crate::error::Result;
use crate::model::encoders::EncoderName;
use crate::settings::settings;

/// Flags of `pretext encoders`.
#[derive(Debug, Args)]
pub struct EncodersArgs {
    /// List this encoder's settings (the keys of its [model.encoder] table) with their defaults
    #[arg(long, value_parser = choice::<EncoderName>(), value_name = "NAME")]
    pub encoder: Option<EncoderName>,
}

pub fn execute(args: EncodersArgs) -> Result<()> {
    match args.encoder {
        None => {
            for encoder in EncoderName::ALL {
                println!("{:<10} {}", encoder.to_string(), encoder.description());
            }
            println!("\nPick one with --encoder NAME (run, pretrain, sweep, config, summary).");
            println!("`pretext encoders --encoder NAME` lists an encoder's settings.");
        }
        Some(encoder) => {
            println!("{encoder}: {}\n", encoder.description());
            print_table(&settings(&encoder.defaults()));
            println!("\nChange one with --set model.encoder.KEY=VALUE (run, pretrain, sweep, config), or in the [model.encoder] table of a --config file.");
        }
    }
    Ok(())
}
