//! The settings of a method or an encoder as a list: each key of its table (`[method]`,
//! `[model.encoder]`) with its default and the first sentence of its doc comment. The
//! descriptions are read off the config types' JSON schema (which `schemars` derives from the
//! doc comments) and the defaults off the variant's own defaults, so the list cannot drift
//! from the code.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// One key of a method's or an encoder's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dotted below the table, as a config file's `[method]` table spells it: `temperature`, `projector.hidden`.
    pub key: String,
    /// The method's default, as TOML writes it.
    pub default: String,
    /// The first sentence of the field's doc comment.
    pub description: String,
}

/// The name serde gives `value`, a unit variant (`barlow-twins`, `fixmatch`).
pub fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => panic!("not a unit variant: {other:?}"),
    }
}

/// The unit variant of `T` that serde names `name`, the inverse of [`name_of`].
pub fn named<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name)).ok()
}

/// Every key but `name` of `defaults`, a variant of a table tagged by `name` (a
/// `MethodConfig`, an `EncoderConfig`), in the schema's (alphabetical) order, nested tables'
/// keys dotted.
pub fn settings<T: JsonSchema + Serialize>(defaults: &T) -> Vec<Setting> {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let defaults = toml::Value::try_from(defaults).expect("settings serialise");
    let variants = root["oneOf"].as_array().expect("a tagged enum");
    let variant = variants.iter().find(|v| v["properties"]["name"]["const"].as_str() == defaults["name"].as_str()).expect("every name is a variant");
    let mut settings = Vec::new();
    collect(root, variant, "", &defaults, &mut settings);
    settings.retain(|setting| setting.key != "name");
    settings
}

/// Appends the leaves of schema `object` (its defaults in `defaults`) below `prefix`.
fn collect(root: &Value, object: &Value, prefix: &str, defaults: &toml::Value, settings: &mut Vec<Setting>) {
    let Some(properties) = object["properties"].as_object() else { return };
    for (name, property) in properties {
        let key = format!("{prefix}{name}");
        let default = defaults.get(name).expect("every key the schema names has a default");
        match property["$ref"].as_str() {
            Some(reference) => {
                let definition = reference.strip_prefix("#/$defs/").map(|name| &root["$defs"][name]).expect("a local definition");
                collect(root, definition, &format!("{key}."), default, settings);
            }
            None => settings.push(Setting { key, default: default.to_string(), description: first_sentence(property["description"].as_str().unwrap_or_default()) }),
        }
    }
}

/// The first sentence of a doc comment, on one line.
fn first_sentence(doc: &str) -> String {
    let text = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Preset, RunConfig};
    use crate::methods::MethodName;
    use crate::model::encoders::EncoderName;

    #[test]
    fn simclr_lists_its_keys_with_defaults_and_doc_comments() {
        let settings = settings(&MethodName::Simclr.defaults());
        let find = |key: &str| settings.iter().find(|s| s.key == key).unwrap_or_else(|| panic!("{key} missing from {settings:?}"));
        let temperature = find("temperature");
        assert_eq!((temperature.default.as_str(), temperature.description.as_str()), ("0.2", "Softmax temperature of NT-Xent."));
        assert_eq!((find("projector.hidden").default.as_str(), find("projector.hidden").description.as_str()), ("512", "Width of the hidden layer."));
        let crop = find("augment.crop_scale");
        assert_eq!(crop.default, "[0.5, 1.0]");
        assert!(crop.description.starts_with("Random resized crop") && crop.description.ends_with("([1, 1] = no crop)."), "{}", crop.description);
        // 1 temperature, 3 projector keys, 13 augmentation keys; `name` is not a setting.
        assert_eq!(settings.len(), 17, "{settings:?}");
    }

    #[test]
    fn every_key_listed_is_one_set_accepts_and_rotation_has_none() {
        assert!(settings(&MethodName::Rotation.defaults()).is_empty());
        for &method in MethodName::ALL {
            let config = RunConfig::preset(Preset::Default).with_method(method);
            for setting in settings(&method.defaults()) {
                let key = format!("method.{}", setting.key);
                assert_eq!(config.clone().set(&key, &setting.default).unwrap(), config, "{key}");
                assert!(!setting.description.is_empty(), "{key} has no doc comment");
            }
        }
        for &encoder in EncoderName::ALL {
            let config = RunConfig::preset(Preset::Default);
            let config = RunConfig { model: config.model.with_encoder(encoder), ..config };
            let listed = settings(&encoder.defaults());
            assert!(!listed.is_empty(), "{encoder} has settings");
            for setting in listed {
                let key = format!("model.encoder.{}", setting.key);
                assert_eq!(config.clone().set(&key, &setting.default).unwrap(), config, "{key}");
                assert!(!setting.description.is_empty(), "{key} has no doc comment");
            }
        }
    }
}
