//! Config management plugins (Argo CD's CMP): a command declared in weir's configuration that
//! renders an app directory, such as `kustomize build .` or `helm template . --namespace x`.
//! The command is run with a fixed argv (no shell: nothing from the Application is ever
//! interpolated into a command line), in the app directory, with a cleared environment holding
//! only `PATH`, `HOME`, Argo CD's `ARGOCD_APP_*` build environment, the app's plugin `env` as
//! `ARGOCD_ENV_<NAME>` and its parameters as `PARAM_<NAME>` and `ARGOCD_APP_PARAMETERS`; it is
//! killed after its timeout, and its output is capped like a directory source.
//!
//! A plugin is used when the app names it (`spec.source.plugin.name`), or when the app names
//! none and the plugin's `discover` file (e.g. `kustomization.yaml`, `Chart.yaml`) is in the
//! app directory.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_model::argocd::ApplicationSource;

/// Argo CD's `ARGOCD_EXEC_TIMEOUT` default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);
/// The most a plugin may print (the directory sources' combined size limit).
const MAX_OUTPUT: u64 = 10 * 1024 * 1024;
/// The most of a failing plugin's standard error shown in the ComparisonError.
const MAX_STDERR: u64 = 4 * 1024;

/// One plugin of weir's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigManagementPlugin {
    /// The name Applications use (`spec.source.plugin.name`).
    pub name: String,
    /// The program and its arguments, run as is in the app directory.
    pub command: Vec<String>,
    /// A file whose presence in the app directory selects this plugin for apps that name none.
    pub discover: Option<String>,
    /// Killed after this long.
    pub timeout: Duration,
}

/// What a plugin is told about the app it renders.
#[derive(Debug, Clone, Copy)]
pub struct BuildEnv<'a> {
    /// The Application's name.
    pub app_name: &'a str,
    /// The destination namespace.
    pub namespace: &'a str,
    /// The resolved commit SHA.
    pub revision: &'a str,
    /// The source.
    pub source: &'a ApplicationSource,
}

/// The plugin that renders `app_dir` for `source`, if any; an error when the app names a
/// plugin weir does not have.
pub fn select<'a>(
    plugins: &'a [ConfigManagementPlugin],
    source: &ApplicationSource,
    app_dir: &Path,
) -> Result<Option<&'a ConfigManagementPlugin>, String> {
    let discovered =
        || plugins.iter().find(|p| p.discover.as_ref().is_some_and(|f| app_dir.join(f).is_file()));
    match source.plugin.as_ref().map(|p| p.name.as_deref().unwrap_or("")) {
        Some("") => discovered().map(Some).ok_or_else(|| {
            "the app asks for a plugin, but no configured plugin's discover file is in the app path"
                .to_string()
        }),
        Some(name) => plugins
            .iter()
            .find(|p| p.name == name)
            .map(Some)
            .ok_or_else(|| format!("config management plugin {name:?} is not configured")),
        None => Ok(discovered()),
    }
}

/// Runs `plugin` in `app_dir`; returns what it printed.
pub fn run(
    plugin: &ConfigManagementPlugin,
    app_dir: &Path,
    env: BuildEnv<'_>,
) -> Result<String, String> {
    let name = &plugin.name;
    let Some((program, args)) = plugin.command.split_first() else {
        return Err(format!("plugin {name:?} has no command"));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(app_dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    for (key, value) in environment(env)? {
        command.env(key, value);
    }
    let mut child =
        command.spawn().map_err(|e| format!("plugin {name:?}: cannot run {program:?}: {e}"))?;
    let stdout = child.stdout.take().map(|s| capture(s, MAX_OUTPUT + 1));
    let stderr = child.stderr.take().map(|s| capture(s, MAX_STDERR));
    let deadline = Instant::now() + plugin.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "plugin {name:?} timed out after {} s",
                    plugin.timeout.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("plugin {name:?}: {e}")),
        }
    };
    let out = stdout.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    let err = stderr.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        return Err(format!("plugin {name:?} failed ({status}): {}", err.trim()));
    }
    if out.len() as u64 > MAX_OUTPUT {
        return Err(format!(
            "plugin {name:?}: exceeded max combined manifest file size: the output rendered from path {:?} is over the limit of {MAX_OUTPUT} bytes",
            env.source.path.as_deref().unwrap_or(".")
        ));
    }
    String::from_utf8(out).map_err(|_| format!("plugin {name:?} printed invalid UTF-8"))
}

/// Reads a pipe to its end on a thread, keeping at most `cap` bytes (the rest is drained so
/// the child never blocks on a full pipe).
fn capture(mut pipe: impl Read + Send + 'static, cap: u64) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let _ = (&mut pipe).take(cap).read_to_end(&mut kept);
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
        kept
    })
}

/// Argo CD's build environment, the plugin env and the parameters.
fn environment(env: BuildEnv<'_>) -> Result<Vec<(String, String)>, String> {
    let short = |n: usize| env.revision.chars().take(n).collect::<String>();
    let mut vars = vec![
        ("ARGOCD_APP_NAME".to_string(), env.app_name.to_string()),
        ("ARGOCD_APP_NAMESPACE".to_string(), env.namespace.to_string()),
        ("ARGOCD_APP_REVISION".to_string(), env.revision.to_string()),
        ("ARGOCD_APP_REVISION_SHORT".to_string(), short(7)),
        ("ARGOCD_APP_REVISION_SHORT_8".to_string(), short(8)),
        ("ARGOCD_APP_SOURCE_REPO_URL".to_string(), env.source.repo_url.clone()),
        ("ARGOCD_APP_SOURCE_PATH".to_string(), env.source.path_or_root().to_string()),
        (
            "ARGOCD_APP_SOURCE_TARGET_REVISION".to_string(),
            env.source.target_revision_or_default().to_string(),
        ),
    ];
    let Some(plugin) = &env.source.plugin else { return Ok(vars) };
    for entry in plugin.env.iter().flatten() {
        let key = variable_name(&entry.name).ok_or_else(|| {
            format!("plugin env name {:?} is not a valid variable name", entry.name)
        })?;
        vars.push((format!("ARGOCD_ENV_{key}"), entry.value.clone()));
    }
    let params = plugin.parameters.clone().unwrap_or_default();
    for p in &params {
        let raw = p.name.as_deref().unwrap_or("");
        let key = variable_name(raw)
            .ok_or_else(|| format!("plugin parameter name {raw:?} is not a valid variable name"))?;
        if let Some(value) = &p.string {
            vars.push((format!("PARAM_{}", key.to_ascii_uppercase()), value.clone()));
        }
    }
    let json = serde_json::to_string(&params).map_err(|e| e.to_string())?;
    vars.push(("ARGOCD_APP_PARAMETERS".to_string(), json));
    Ok(vars)
}

/// `name` when it is a portable variable name (letters, digits, `_`, not starting with a
/// digit); nothing from an Application goes into the environment otherwise.
fn variable_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_model::argocd::ApplicationSourcePlugin;

    fn source(plugin: Option<ApplicationSourcePlugin>) -> ApplicationSource {
        ApplicationSource {
            repo_url: "https://example.com/r.git".into(),
            path: Some("app".into()),
            plugin,
            ..ApplicationSource::default()
        }
    }

    fn sh(name: &str, script: &str, timeout: Duration) -> ConfigManagementPlugin {
        ConfigManagementPlugin {
            name: name.into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            discover: Some("kustomization.yaml".into()),
            timeout,
        }
    }

    fn env<'a>(source: &'a ApplicationSource) -> BuildEnv<'a> {
        BuildEnv { app_name: "guestbook", namespace: "apps", revision: "0123456789abcdef", source }
    }

    #[test]
    fn a_plugin_gets_argo_environment_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plugin = sh(
            "print-env",
            "echo \"$ARGOCD_APP_NAME $ARGOCD_APP_REVISION_SHORT $ARGOCD_ENV_MODE $PARAM_SIZE ${SECRET_TOKEN:-unset}\"",
            DEFAULT_TIMEOUT,
        );
        let plugin_source: ApplicationSourcePlugin = serde_json::from_value(serde_json::json!({
            "name": "print-env",
            "env": [{"name": "MODE", "value": "$(rm -rf /) ; prod"}],
            "parameters": [{"name": "size", "string": "large"}],
        }))
        .expect("plugin source");
        let src = source(Some(plugin_source));
        // The shell-looking value stays a value; variables of weir's own environment
        // (here `SECRET_TOKEN`, were it set) never reach the plugin.
        let out = run(&plugin, dir.path(), env(&src)).expect("runs");
        assert_eq!(out.trim(), "guestbook 0123456 $(rm -rf /) ; prod large unset");
    }

    #[test]
    fn failures_timeouts_and_bad_names_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = source(None);
        let failing = sh("fails", "echo broken chart >&2; exit 4", DEFAULT_TIMEOUT);
        let err = run(&failing, dir.path(), env(&src)).expect_err("fails");
        assert!(err.starts_with("plugin \"fails\" failed (exit status: 4): broken chart"), "{err}");
        let slow = sh("slow", "sleep 30", Duration::from_millis(200));
        let err = run(&slow, dir.path(), env(&src)).expect_err("times out");
        assert_eq!(err, "plugin \"slow\" timed out after 0.2 s");
        // Output over the 10 MiB manifest limit names the app path and the limit.
        let huge = sh("huge", "head -c 10485761 /dev/zero | tr '\\0' a", DEFAULT_TIMEOUT);
        let err = run(&huge, dir.path(), env(&src)).expect_err("too large");
        assert_eq!(
            err,
            "plugin \"huge\": exceeded max combined manifest file size: the output rendered from path \"app\" is over the limit of 10485760 bytes"
        );
        let bad: ApplicationSourcePlugin = serde_json::from_value(serde_json::json!({
            "name": "x", "env": [{"name": "A=B", "value": "v"}]
        }))
        .expect("plugin source");
        let src = source(Some(bad));
        let err = run(&failing, dir.path(), env(&src)).expect_err("bad name");
        assert!(err.contains("\"A=B\" is not a valid variable name"), "{err}");
    }

    #[test]
    fn plugins_are_chosen_by_name_or_by_their_discover_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plugins = [sh("kustomize", "true", DEFAULT_TIMEOUT)];
        assert_eq!(select(&plugins, &source(None), dir.path()), Ok(None));
        std::fs::write(dir.path().join("kustomization.yaml"), "resources: []\n").expect("write");
        assert_eq!(select(&plugins, &source(None), dir.path()), Ok(Some(&plugins[0])));
        let named = ApplicationSourcePlugin { name: Some("helm".into()), ..Default::default() };
        let err = select(&plugins, &source(Some(named)), dir.path()).expect_err("unknown");
        assert_eq!(err, "config management plugin \"helm\" is not configured");
    }
}
