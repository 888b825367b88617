//! Secret masking for display (`HideSecretData`): every value under `data` (after folding
//! `stringData`), and the listed annotations, become runs of `+`. Per key, target, live and
//! their last-applied configurations are visited in that order; the first distinct value gets
//! eight `+`, each further distinct value four more, so a difference stays visible without
//! showing the value. A last-applied annotation that is not valid JSON (or is itself listed)
//! becomes `++++++++` (fail closed).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::LAST_APPLIED_ANNOTATION;
use super::normalize::normalize_secret;
use super::text::sorted;

const FIRST: &str = "++++++++";

/// Masks a target/live pair of Secrets. Non-Secrets should not be passed (they are masked too).
pub fn hide_secret_data(
    target: Option<&Value>,
    live: Option<&Value>,
    hide_annotations: &[String],
) -> (Option<Value>, Option<Value>) {
    let mut target = target.cloned();
    let mut live = live.cloned();
    let mut applied: [Option<Value>; 2] = [None, None];
    for (slot, obj) in [&mut target, &mut live].into_iter().enumerate() {
        let Some(obj) = obj else { continue };
        normalize_secret(obj);
        let Some(text) = annotation(obj, LAST_APPLIED_ANNOTATION) else { continue };
        let parsed = serde_json::from_str::<Value>(&text).ok().filter(|v| {
            v.is_object() && !hide_annotations.iter().any(|h| h == LAST_APPLIED_ANNOTATION)
        });
        match parsed {
            Some(mut la) => {
                normalize_secret(&mut la);
                applied[slot] = Some(la);
            }
            None => set_annotation(obj, LAST_APPLIED_ANNOTATION, FIRST),
        }
    }
    let [mut target_la, mut live_la] = applied;
    {
        let mut objs: Vec<&mut Value> = [&mut target, &mut live, &mut target_la, &mut live_la]
            .into_iter()
            .filter_map(Option::as_mut)
            .collect();
        let keys: BTreeSet<String> = objs
            .iter()
            .filter_map(|o| o.get("data").and_then(Value::as_object))
            .flat_map(|d| d.keys().cloned())
            .collect();
        for key in &keys {
            mask_key(&mut objs, |o| o.get_mut("data"), key);
        }
        for key in hide_annotations {
            mask_key(&mut objs, |o| o.pointer_mut("/metadata/annotations"), key);
        }
    }
    for (obj, la) in [(&mut target, target_la), (&mut live, live_la)] {
        if let (Some(obj), Some(la)) = (obj.as_mut(), la) {
            let text = serde_json::to_string(&sorted(&la)).unwrap_or_else(|_| FIRST.to_string());
            set_annotation(obj, LAST_APPLIED_ANNOTATION, &text);
        }
    }
    (target, live)
}

fn mask_key(objs: &mut [&mut Value], field: impl Fn(&mut Value) -> Option<&mut Value>, key: &str) {
    let mut next = FIRST.to_string();
    let mut seen: HashMap<String, String> = HashMap::new();
    for obj in objs.iter_mut() {
        let Some(map) = field(obj).and_then(Value::as_object_mut) else { continue };
        let Some(value) = map.get_mut(key) else { continue };
        let id = value.to_string();
        let replacement = seen
            .entry(id)
            .or_insert_with(|| {
                let r = next.clone();
                next.push_str("++++");
                r
            })
            .clone();
        *value = Value::String(replacement);
    }
}

fn annotation(obj: &Value, key: &str) -> Option<String> {
    obj.pointer("/metadata/annotations")?.get(key)?.as_str().map(str::to_string)
}

fn set_annotation(obj: &mut Value, key: &str, value: &str) {
    if let Some(ann) = obj.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        ann.insert(key.to_string(), Value::String(value.to_string()));
    }
}
