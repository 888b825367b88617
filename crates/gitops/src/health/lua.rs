//! Health customizations written in Lua, run as Argo CD runs them (`util/lua`): the global
//! `obj` holds the live object, the script returns a table `{status = ..., message = ...}`.
//!
//! Pure: a script and an object in, a [`Health`] (or an error) out; no I/O. Each run gets a
//! fresh Lua 5.1 state (Argo CD uses gopher-lua, a Lua 5.1) with
//! - the base and `table` libraries and a safe `os` (`os.time`, `os.date` only), as Argo CD
//!   gives every script; `useOpenLibs` adds `string` and `math`. Unlike Argo CD, `io`, the rest
//!   of `os`, `package` and `debug` are never opened (weir runs in one process: `os.exit` or
//!   `io.open` would reach weir itself), and `dofile`, `loadfile`, `load` and `loadstring` are
//!   removed (no file access, no bytecode);
//! - bounds: at most [`LuaLimits::instructions`] VM instructions (Argo CD stops a script after
//!   one second) and [`LuaLimits::memory_bytes`] of memory, so a script that loops forever or
//!   allocates without end fails quickly instead of stalling the controller.
//!
//! [`HealthOverrides`] holds the scripts by `group/Kind` key (wildcards allowed, as in
//! `resource.customizations`), and [`HealthOverrides::assess`] applies one to an object.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use mlua::chunk::ChunkMode;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, VmState};
use serde_json::Value;

use super::{Health, HealthStatus};
use crate::json;
use crate::source::glob_match;

/// How much a script may do before it is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuaLimits {
    /// VM instructions (counted in steps of [`INSTRUCTION_STEP`]).
    pub instructions: u64,
    /// Bytes the Lua state may allocate (the object given to the script included).
    pub memory_bytes: usize,
}

impl Default for LuaLimits {
    /// 10 million instructions (about half a second in a debug build, far less in release;
    /// Argo CD stops a script after one second of wall time, and the scripts it ships use a
    /// tiny part of either) and 32 MiB.
    fn default() -> Self {
        LuaLimits { instructions: 10_000_000, memory_bytes: 32 << 20 }
    }
}

/// The instruction count hook runs every this many instructions.
pub const INSTRUCTION_STEP: u32 = 1000;

/// One health script and whether it may use the standard libraries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthScript {
    /// Lua source.
    pub script: String,
    /// `resource.customizations.useOpenLibs.<group_kind>`.
    pub use_open_libs: bool,
}

/// Why a script gave no health.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LuaHealthError {
    /// The script failed to load or run (syntax error, runtime error, a limit reached).
    #[error("{0}")]
    Lua(String),
    /// The script returned something other than a table or nil (Argo CD's words).
    #[error("expect table output from Lua script, not {0}")]
    ReturnType(String),
    /// The table's `status` or `message` is not a string.
    #[error("the {field} returned by the Lua script must be a string, not {found}")]
    FieldType {
        /// `status` or `message`.
        field: &'static str,
        /// The Lua type found.
        found: String,
    },
}

/// Argo CD's message for a status string that is not one of its health codes.
pub const INVALID_HEALTH_STATUS: &str = "Lua returned an invalid health status";

/// Runs `script` with `obj` as the global `obj`. `Ok(None)`: the script returned nil (no
/// health). A status that is not a health code gives `Unknown` with
/// [`INVALID_HEALTH_STATUS`], as in Argo CD.
pub fn run(
    script: &HealthScript,
    obj: &Value,
    limits: LuaLimits,
) -> Result<Option<Health>, LuaHealthError> {
    run_lua(script, obj, limits).map_err(|e| LuaHealthError::Lua(lua_message(&e)))?
}

fn run_lua(
    script: &HealthScript,
    obj: &Value,
    limits: LuaLimits,
) -> mlua::Result<Result<Option<Health>, LuaHealthError>> {
    let mut libs = StdLib::TABLE | StdLib::OS;
    if script.use_open_libs {
        libs |= StdLib::STRING | StdLib::MATH;
    }
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    lua.set_memory_limit(limits.memory_bytes)?;
    let budget = limits.instructions / u64::from(INSTRUCTION_STEP);
    let steps = Rc::new(Cell::new(0u64));
    let counter = steps.clone();
    let max = limits.instructions;
    lua.set_hook(HookTriggers::new().every_nth_instruction(INSTRUCTION_STEP), move |_, _| {
        counter.set(counter.get() + 1);
        if counter.get() > budget {
            return Err(mlua::Error::runtime(format!(
                "the script exceeded its limit of {max} instructions"
            )));
        }
        Ok(VmState::Continue)
    })?;
    sandbox(&lua)?;
    let globals = lua.globals();
    globals.set("obj", to_lua(&lua, obj)?)?;
    let returned: mlua::MultiValue =
        lua.load(&script.script).set_name("=<string>").set_mode(ChunkMode::Text).call(())?;
    let last = returned.into_iter().last().unwrap_or(mlua::Value::Nil);
    Ok(health_of(last))
}

/// Keeps the base library's safe part and only `os.time` and `os.date`.
fn sandbox(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    for unsafe_fn in ["dofile", "loadfile", "load", "loadstring"] {
        globals.set(unsafe_fn, mlua::Value::Nil)?;
    }
    let safe_os = lua.create_table()?;
    if let Ok(os) = globals.get::<Table>("os") {
        for name in ["time", "date"] {
            safe_os.set(name, os.get::<mlua::Value>(name)?)?;
        }
    }
    globals.set("os", safe_os)?;
    // `print` would write into weir's own stdout.
    globals.set("print", lua.create_function(|_, _: mlua::MultiValue| Ok(()))?)?;
    Ok(())
}

/// The script's returned value as a health (Argo CD's `ExecuteHealthLua`).
fn health_of(value: mlua::Value) -> Result<Option<Health>, LuaHealthError> {
    let table = match value {
        mlua::Value::Table(t) => t,
        mlua::Value::Nil => return Ok(None),
        other => return Err(LuaHealthError::ReturnType(lua_type(&other).to_owned())),
    };
    let status = string_field(&table, "status")?;
    let message = string_field(&table, "message")?;
    Ok(Some(match HealthStatus::parse(&status) {
        Some(status) => Health::new(status, message),
        None => Health::new(HealthStatus::Unknown, INVALID_HEALTH_STATUS),
    }))
}

/// Lua 5.1's name of a value's type (mlua calls integral numbers `integer`).
fn lua_type(value: &mlua::Value) -> &'static str {
    match value {
        mlua::Value::Integer(_) => "number",
        other => other.type_name(),
    }
}

fn string_field(table: &Table, field: &'static str) -> Result<String, LuaHealthError> {
    match table.raw_get::<mlua::Value>(field) {
        Ok(mlua::Value::Nil) => Ok(String::new()),
        Ok(mlua::Value::String(s)) => Ok(s.to_string_lossy()),
        Ok(other) => Err(LuaHealthError::FieldType { field, found: lua_type(&other).to_owned() }),
        Err(e) => Err(LuaHealthError::Lua(lua_message(&e))),
    }
}

/// A JSON value as Lua (gopher-lua's `decodeValue` in Argo CD): objects and arrays become
/// tables (arrays 1-based), `null` becomes nil.
fn to_lua(lua: &Lua, value: &Value) -> mlua::Result<mlua::Value> {
    Ok(match value {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => mlua::Value::String(lua.create_string(s)?),
        Value::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            mlua::Value::Table(table)
        }
        Value::Object(map) => {
            let table = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                table.raw_set(k.as_str(), to_lua(lua, v)?)?;
            }
            mlua::Value::Table(table)
        }
    })
}

/// The text of a Lua error without mlua's prefixes and tracebacks: what gopher-lua would
/// print (`<string>:3: attempt to index ...`).
fn lua_message(error: &mlua::Error) -> String {
    match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => {
            message.split("\nstack traceback:").next().unwrap_or(message).to_owned()
        }
        mlua::Error::MemoryError(_) => {
            "not enough memory: the script exceeded its memory limit".into()
        }
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        mlua::Error::WithContext { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

/// Health scripts by override key: `group/Kind`, or `Kind` for the core group, as Argo CD's
/// `resource.customizations` keys (`_` in the split keys read as `/`); a key may hold glob
/// wildcards (`*.example.com/*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOverrides {
    scripts: BTreeMap<String, HealthScript>,
    limits: Option<LuaLimits>,
}

impl HealthOverrides {
    /// No overrides: the built-in checks only.
    pub fn new() -> Self {
        HealthOverrides::default()
    }

    /// Adds (or replaces) the script of `key` (`group/Kind` or `Kind`).
    pub fn insert(&mut self, key: impl Into<String>, script: HealthScript) {
        self.scripts.insert(key.into(), script);
    }

    /// Runs scripts with these limits instead of the defaults.
    pub fn with_limits(mut self, limits: LuaLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// True when there is no script.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// The script for a group and kind, with its key: the exact key first, then the first
    /// wildcard key (in key order) that matches (Argo CD's `GetHealthScript`).
    pub fn script_for(&self, group: &str, kind: &str) -> Option<(&str, &HealthScript)> {
        let key = override_key(group, kind);
        if let Some((k, s)) = self.scripts.get_key_value(&key)
            && !s.script.is_empty()
        {
            return Some((k.as_str(), s));
        }
        self.scripts
            .iter()
            .filter(|(k, s)| k.contains(['*', '?', '[']) && !s.script.is_empty())
            .find(|(k, _)| glob_match(k, &key))
            .map(|(k, s)| (k.as_str(), s))
    }

    /// The health a script gives `obj`, or `None` when no script applies (or it returned nil).
    /// A failing script gives `Unknown` with a message naming the group/kind and the error.
    pub fn assess(&self, obj: &Value) -> Option<Health> {
        if self.scripts.is_empty() {
            return None;
        }
        let group = json::group_of(json::str_at(obj, &["apiVersion"]).unwrap_or(""));
        let kind = json::str_at(obj, &["kind"]).unwrap_or("");
        let (_, script) = self.script_for(group, kind)?;
        match run(script, obj, self.limits.unwrap_or_default()) {
            Ok(health) => health,
            Err(error) => Some(Health::new(
                HealthStatus::Unknown,
                format!(
                    "error running the health script of {}: {error}",
                    override_key(group, kind)
                ),
            )),
        }
    }
}

/// Argo CD's override key of a group and kind (`GetConfigMapKey`).
pub fn override_key(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_owned() } else { format!("{group}/{kind}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn script(src: &str) -> HealthScript {
        HealthScript { script: src.to_owned(), use_open_libs: false }
    }

    fn small() -> LuaLimits {
        LuaLimits { instructions: 1_000_000, memory_bytes: 4 << 20 }
    }

    #[test]
    fn returns_the_table_as_health() {
        let s = script(
            r#"hs = {}
               if obj.status.ready == obj.spec.replicas then hs.status = "Healthy" else hs.status = "Progressing" end
               hs.message = obj.metadata.name .. " is " .. hs.status
               return hs"#,
        );
        let obj =
            json!({"metadata": {"name": "x"}, "spec": {"replicas": 2}, "status": {"ready": 1}});
        assert_eq!(
            run(&s, &obj, small()),
            Ok(Some(Health::new(HealthStatus::Progressing, "x is Progressing")))
        );
    }

    #[test]
    fn arrays_are_one_based_and_null_is_nil() {
        let s = script(
            r#"if obj.a[1] == "first" and obj.a[3] == nil and obj.n == nil and #obj.a == 2 then
                 return {status = "Healthy"} end
               return {status = "Degraded"}"#,
        );
        let obj = json!({"a": ["first", "second"], "n": null});
        assert_eq!(run(&s, &obj, small()), Ok(Some(Health::new(HealthStatus::Healthy, ""))));
    }

    #[test]
    fn garbage_and_errors_are_errors() {
        let obj = json!({});
        let cases: [(&str, LuaHealthError); 4] = [
            ("return 5", LuaHealthError::ReturnType("number".into())),
            (
                "return {status = 1}",
                LuaHealthError::FieldType { field: "status", found: "number".into() },
            ),
            ("error('boom')", LuaHealthError::Lua("<string>:1: boom".into())),
            (
                "return obj.spec.x",
                LuaHealthError::Lua(
                    "<string>:1: attempt to index field 'spec' (a nil value)".into(),
                ),
            ),
        ];
        for (src, expected) in cases {
            assert_eq!(run(&script(src), &obj, small()), Err(expected), "{src}");
        }
        let bad = run(&script("return {"), &obj, small());
        assert!(
            matches!(&bad, Err(LuaHealthError::Lua(m)) if m.starts_with("<string>:1:")),
            "{bad:?}"
        );
    }

    #[test]
    fn an_unknown_status_is_unknown_and_nil_is_no_health() {
        assert_eq!(
            run(&script("return {status = 'Fine'}"), &json!({}), small()),
            Ok(Some(Health::new(HealthStatus::Unknown, INVALID_HEALTH_STATUS)))
        );
        assert_eq!(run(&script("return nil"), &json!({}), small()), Ok(None));
    }

    #[test]
    fn endless_loops_and_allocations_are_stopped() {
        let looped = run(&script("while true do end"), &json!({}), small());
        assert_eq!(
            looped,
            Err(LuaHealthError::Lua(
                "the script exceeded its limit of 1000000 instructions".into()
            ))
        );
        let grows = run(
            &script("local t = {} local i = 1 while true do t[i] = {i} i = i + 1 end"),
            &json!({}),
            LuaLimits { instructions: u64::MAX, memory_bytes: 4 << 20 },
        );
        assert!(matches!(&grows, Err(LuaHealthError::Lua(m)) if m.contains("memory")), "{grows:?}");
    }

    #[test]
    fn libraries_are_opened_only_on_request() {
        let uses_string = "return {status = 'Healthy', message = string.upper('x')}";
        let closed = run(&script(uses_string), &json!({}), small());
        assert!(
            matches!(&closed, Err(LuaHealthError::Lua(m)) if m.contains("string")),
            "{closed:?}"
        );
        let open = HealthScript { script: uses_string.into(), use_open_libs: true };
        assert_eq!(
            run(&open, &json!({}), small()),
            Ok(Some(Health::new(HealthStatus::Healthy, "X")))
        );
        // Always there: table and a safe os; never: io, os.exit, file loading.
        let always = "table.insert({}, 1) local t = os.time() \
            return {status = (io == nil and os.exit == nil and dofile == nil and loadstring == nil) and 'Healthy' or 'Degraded'}";
        assert_eq!(
            run(&script(always), &json!({}), small()),
            Ok(Some(Health::new(HealthStatus::Healthy, "")))
        );
    }

    #[test]
    fn exact_keys_win_over_wildcards() {
        let mut overrides = HealthOverrides::new();
        overrides
            .insert("*.example.com/*", script("return {status = 'Degraded', message = 'wild'}"));
        overrides.insert(
            "a.example.com/Thing",
            script("return {status = 'Healthy', message = 'exact'}"),
        );
        overrides.insert("ConfigMap", script("return {status = 'Suspended'}"));
        let thing = |api: &str, kind: &str| json!({"apiVersion": api, "kind": kind});
        let cases = [
            (thing("a.example.com/v1", "Thing"), Some(Health::new(HealthStatus::Healthy, "exact"))),
            (thing("b.example.com/v1", "Other"), Some(Health::new(HealthStatus::Degraded, "wild"))),
            (thing("v1", "ConfigMap"), Some(Health::new(HealthStatus::Suspended, ""))),
            (thing("example.org/v1", "Thing"), None),
        ];
        for (obj, expected) in cases {
            assert_eq!(overrides.assess(&obj), expected, "{obj}");
        }
    }

    #[test]
    fn a_failing_script_names_its_kind() {
        let mut overrides = HealthOverrides::new().with_limits(small());
        overrides.insert("batch/CronJob", script("error('no')"));
        let health = overrides.assess(&json!({"apiVersion": "batch/v1", "kind": "CronJob"}));
        assert_eq!(
            health,
            Some(Health::new(
                HealthStatus::Unknown,
                "error running the health script of batch/CronJob: <string>:1: no"
            ))
        );
    }
}
