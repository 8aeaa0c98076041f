//! Flags whose value is one of a library enum's names (`--pixels raw|unit|...`). The library
//! enums know nothing of clap: their names are their serde names and their help is their doc
//! comments, both read off their JSON schema, so `--help` lists the same values with the same
//! help that the TOML config takes.

use std::marker::PhantomData;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::settings::named;

/// The value parser of a flag that takes one of `T`'s names.
pub fn choice<T: JsonSchema + DeserializeOwned + Clone + Send + Sync + 'static>() -> Choice<T> {
    Choice(PhantomData)
}

/// Parses one of `T`'s names into a `T`; see [`choice`].
#[derive(Clone)]
pub struct Choice<T>(PhantomData<T>);

impl<T: JsonSchema + DeserializeOwned + Clone + Send + Sync + 'static> TypedValueParser for Choice<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<T, clap::Error> {
        // clap words a refusal, naming the flag and listing the values.
        let name = PossibleValuesParser::new(possible_values::<T>()).parse_ref(cmd, arg, value)?;
        Ok(named(&name).expect("every name the schema lists deserialises"))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(possible_values::<T>().into_iter()))
    }
}

/// `T`'s names with the first paragraph of each one's doc comment as its help.
fn possible_values<T: JsonSchema>() -> Vec<PossibleValue> {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let value = |name: &serde_json::Value, help: Option<&serde_json::Value>| {
        let name = name.as_str().expect("a unit enum's names are strings").to_owned();
        match help.and_then(|h| h.as_str()) {
            Some(help) => PossibleValue::new(name).help(first_paragraph(help)),
            None => PossibleValue::new(name),
        }
    };
    match (root["oneOf"].as_array(), root["enum"].as_array()) {
        (Some(variants), _) => variants
            .iter()
            .flat_map(|variant| match variant["enum"].as_array() {
                Some(names) => names.iter().map(|name| value(name, variant.get("description"))).collect(),
                None => vec![value(&variant["const"], variant.get("description"))],
            })
            .collect(),
        (None, Some(names)) => names.iter().map(|name| value(name, None)).collect(),
        (None, None) => panic!("{} is not a unit enum", T::schema_name()),
    }
}

/// The first paragraph of a doc comment on one line, without its final period, as clap's
/// derive shows a doc comment.
fn first_paragraph(doc: &str) -> String {
    let text = doc.split("\n\n").next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.ends_with('.') => stripped.to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};

    use super::*;
    use crate::data::batch::Pixels;
    use crate::methods::MethodName;

    #[test]
    fn a_library_enum_is_a_flag_with_its_serde_names_and_doc_comments() {
        let names: Vec<String> = possible_values::<MethodName>().iter().map(|v| v.get_name().to_owned()).collect();
        assert_eq!(names[..5], ["rotation", "simclr", "byol", "vicreg", "barlow-twins"]);
        let raw = possible_values::<Pixels>().into_iter().find(|v| v.get_name() == "raw").unwrap();
        assert!(raw.get_help().unwrap().to_string().starts_with("0..255"), "{:?}", raw.get_help());

        let command = Command::new("pretext").arg(Arg::new("pixels").long("pixels").value_parser(choice::<Pixels>()));
        let matches = command.clone().try_get_matches_from(["pretext", "--pixels", "signed"]).unwrap();
        assert_eq!(matches.get_one::<Pixels>("pixels"), Some(&Pixels::Signed));
        let err = command.try_get_matches_from(["pretext", "--pixels", "grey"]).unwrap_err().to_string();
        assert!(err.contains("invalid value 'grey' for '--pixels <pixels>'") && err.contains("[possible values: raw, unit, signed, standardize]"), "{err}");
    }
}
