use clap::Args;

use crate::error::Result;
use crate::cli::choice::choice;
use crate::methods::MethodName;
use crate::settings::{Setting, settings};

/// Flags of `pretext methods`.
#[derive(Debug, Args)]
pub struct MethodsArgs {
    /// List this method's settings (the keys of its [method] table) with their defaults
    #[arg(long, value_parser = choice::<MethodName>(), value_name = "NAME")]
    pub method: Option<MethodName>,
}

pub fn execute(args: MethodsArgs) -> Result<()> {
    match args.method {
        None => {
            for method in MethodName::ALL {
                println!("{:<13} {}", method.to_string(), method.description());
            }
            println!("\nPick one with --method NAME (run, pretrain, sweep; sweep --methods a,b compares several).");
            println!("`pretext methods --method NAME` lists a method's settings.");
        }
        Some(method) => print_settings(method),
    }
    Ok(())
}

/// Settings as a table: key, default, description.
pub(super) fn print_table(settings: &[Setting]) {
    let key_width = settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
    let default_width = settings.iter().map(|s| s.default.len()).max().unwrap_or(0);
    println!("{:<key_width$}  {:<default_width$}  description", "key", "default");
    for setting in settings {
        println!("{:<key_width$}  {:<default_width$}  {}", setting.key, setting.default, setting.description);
    }
}

/// A method's settings as a table: key, default, description.
fn print_settings(method: MethodName) {
    println!("{method}: {}\n", method.description());
    let settings = settings(&method.defaults());
    if settings.is_empty() {
        println!("No settings of its own: it trains with the pretext phase's (`pretext config --method {method}` prints them).");
        return;
    }
    print_table(&settings);
    println!("\nChange one with --set method.KEY=VALUE (run, pretrain, sweep, config), or in the [method] table of a --config file.");
    println!("Its pretext training (epochs, batch size, learning rate): `pretext config --method {method}`.");
}
