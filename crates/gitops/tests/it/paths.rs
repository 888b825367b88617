//! `paths/vectors.yaml`: app path, out-of-bounds symlinks, manifest file choice, globs.

use std::path::Path;

use serde_json::Value;
use weir_gitops::source::{
    DirectoryOptions, FileVerdict, Glob, check_app_path, check_manifest_file,
    check_out_of_bounds_symlinks, find_manifest_files, glob_match,
};

use crate::{Report, load_yaml, s};

/// Builds a vector's `tree` under `dir`; file sizes follow the notes of the vectors.
fn build(dir: &Path, tree: &Value) {
    for entry in tree.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let rel = s(entry, "path");
        let path = dir.join(rel.trim_end_matches('/'));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        match s(entry, "type").as_str() {
            "dir" => std::fs::create_dir_all(&path).expect("mkdir"),
            "symlink" => {
                let target = s(entry, "target").replace("<abs>", &dir.display().to_string());
                std::os::unix::fs::symlink(target, &path).expect("symlink");
            }
            _ => {
                let size = match (rel.as_str(), rel.rsplit_once('.').map(|(_, e)| e)) {
                    ("cm.yaml", _) => 35,
                    (_, Some("json")) => 42,
                    (_, Some("yaml")) => 31,
                    _ => 5,
                };
                std::fs::write(&path, "x".repeat(size)).expect("write");
            }
        }
    }
}

fn options(v: &Value) -> DirectoryOptions {
    DirectoryOptions {
        recurse: v.get("recurse").and_then(Value::as_bool).unwrap_or(false),
        include: s(v, "include"),
        exclude: s(v, "exclude"),
        disable_extension_filter: v
            .get("disableExtensionFilter")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_combined_size: s(v, "max_size").parse().unwrap_or(0),
    }
}

#[test]
fn path_vectors() {
    let doc = load_yaml("paths/vectors.yaml");
    let mut report = Report::default();

    let app = &doc["app_path"];
    let root = tempfile::tempdir().expect("tempdir");
    build(root.path(), &app["tree"]);
    for case in app["cases"].as_array().expect("cases") {
        let name = s(case, "name");
        let got = check_app_path(root.path(), &s(case, "app_path")).map_err(|e| e.to_string());
        let want = case["error"].as_str();
        report.check(&name, got.as_ref().err().map(String::as_str) == want, || format!("{got:?}"));
    }

    for case in doc["out_of_bounds_symlinks"]["cases"].as_array().expect("cases") {
        let name = s(case, "name");
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().join(s(case, "base"));
        std::fs::create_dir_all(&base).expect("mkdir");
        build(&base, &case["tree"]);
        let skip: Vec<String> = case["skip"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default();
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let got = check_out_of_bounds_symlinks(&base, &skip).expect("walk");
        let expect = &case["expect"];
        let ok = match &got {
            Ok(()) => expect["ok"] == Value::Bool(true),
            Err(e) => {
                expect["ok"] == Value::Bool(false)
                    && e.file == s(expect, "file")
                    && expect.get("error").is_none_or(|m| m.as_str() == Some(&e.to_string()))
            }
        };
        report.check(&name, ok, || format!("{got:?}"));
    }

    let single = &doc["potentially_valid_manifest_file"];
    for case in single["cases"].as_array().expect("cases") {
        let name = s(case, "name");
        let tmp = tempfile::tempdir().expect("tempdir");
        build(tmp.path(), &case["tree"]);
        let got = check_manifest_file(
            &tmp.path().join(s(case, "file")),
            tmp.path(),
            tmp.path(),
            &options(case),
        );
        let e = &case["expect"];
        let ok = match &got {
            Err(err) => e["error_contains"].as_str().is_some_and(|c| err.to_string().contains(c)),
            Ok(FileVerdict::Manifest { real, .. }) => {
                e["valid"] == Value::Bool(true)
                    && e["real_file_name"].as_str().is_none_or(|n| real.ends_with(n))
            }
            Ok(FileVerdict::Ignored(msg)) => {
                e["valid"] == Value::Bool(false)
                    && e["error"].is_null()
                    && e.get("error_contains").is_none()
                    && match (e["ignore_message"].as_str(), e["ignore_message_contains"].as_str()) {
                        (Some("<non-empty>"), _) => !msg.is_empty(),
                        (Some(m), _) => msg == m,
                        (None, Some(c)) => msg.contains(c),
                        (None, None) => true,
                    }
            }
        };
        report.check(&name, ok, || format!("{got:?}"));
    }
    for case in single["disable_extension_filter"].as_array().expect("cases") {
        let name = s(case, "name");
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join(s(case, "file"));
        std::fs::write(&file, "x").expect("write");
        let got = check_manifest_file(&file, tmp.path(), tmp.path(), &options(case));
        let valid = matches!(got, Ok(FileVerdict::Manifest { .. }));
        report.check(&name, Some(valid) == case["valid"].as_bool() && got.is_ok(), || {
            format!("{got:?}")
        });
    }

    let many = &doc["potentially_valid_manifests"];
    for case in many["cases"].as_array().expect("cases") {
        let name = s(case, "name");
        let rows: Vec<(Value, Value)> = match case.get("table").and_then(Value::as_array) {
            Some(rows) => rows.iter().map(|r| (r.clone(), r["expect"].clone())).collect(),
            None => vec![(case.clone(), case["expect"].clone())],
        };
        // "link to over-sized manifest fails" reuses the in-bounds-link tree.
        let tree = if case.get("tree").is_some() {
            case["tree"].clone()
        } else {
            many["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .find(|c| c["dir"] == case["dir"] && c.get("tree").is_some())
                .map(|c| c["tree"].clone())
                .unwrap_or(Value::Null)
        };
        for (i, (row, expect)) in rows.iter().enumerate() {
            let tmp = tempfile::tempdir().expect("tempdir");
            let repo = tmp.path().join(s(case, "dir"));
            std::fs::create_dir_all(&repo).expect("mkdir");
            build(&repo, &tree);
            let app = match case["app_path"].as_str() {
                Some(p) => tmp.path().join(p),
                None => repo.clone(),
            };
            let mut opts = options(case);
            opts.max_combined_size = s(row, "max_size").parse().unwrap_or(0);
            let got = find_manifest_files(&app, &repo, &opts);
            let count = got.as_ref().map(|m| m.files.len()).unwrap_or(0) as u64;
            let ok = count == expect["count"].as_u64().unwrap_or(0)
                && match (&got, &expect["error"]) {
                    (Ok(_), Value::Null) => true,
                    (Err(_), Value::Bool(true)) => true,
                    // Argo CD's message, to which weir may add details after ": ".
                    (Err(e), Value::String(m)) => {
                        let message = e.to_string();
                        message == *m || message.starts_with(&format!("{m}: "))
                    }
                    _ => false,
                };
            report.check(&format!("{name}[{i}]"), ok, || format!("{got:?}"));
        }
    }
    for case in many["disable_extension_filter"].as_array().expect("cases") {
        let name = s(case, "name");
        let tmp = tempfile::tempdir().expect("tempdir");
        for f in case["files"].as_array().expect("files") {
            std::fs::write(tmp.path().join(f.as_str().unwrap_or("x")), "x").expect("write");
        }
        let got = find_manifest_files(tmp.path(), tmp.path(), &options(case)).expect("find");
        let warned = case["expect_warning_contains"]
            .as_str()
            .is_none_or(|w| got.warnings.iter().any(|m| m.contains(w)));
        report.check(
            &name,
            got.files.len() as u64 == case["expect_count"].as_u64().unwrap_or(99) && warned,
            || format!("{got:?}"),
        );
    }

    let dir = &doc["directory_include_exclude"];
    let tmp = tempfile::tempdir().expect("tempdir");
    build(tmp.path(), &dir["tree"]);
    for case in dir["cases"].as_array().expect("cases") {
        let name = s(case, "name");
        let mut opts = options(case);
        opts.recurse = true;
        let got = find_manifest_files(tmp.path(), tmp.path(), &opts).expect("find");
        let mut names: Vec<String> = got
            .files
            .iter()
            .map(|(p, _)| {
                let rel = p.strip_prefix(tmp.path()).unwrap_or(p).display().to_string();
                dir["tree"]
                    .as_array()
                    .expect("tree")
                    .iter()
                    .find(|e| s(e, "path") == rel)
                    .map(|e| s(e, "object").rsplit(' ').next().unwrap_or("").to_string())
                    .unwrap_or(rel)
            })
            .collect();
        names.sort();
        let want: Vec<String> = case["expect_names"]
            .as_array()
            .expect("names")
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect();
        report.check(&name, names == want, || format!("{names:?}"));
    }
    for case in dir["find_manifests_disable_extension_filter"].as_array().expect("cases") {
        let name = s(case, "name");
        let tmp = tempfile::tempdir().expect("tempdir");
        for (file, text) in case["files"].as_object().expect("files") {
            std::fs::write(tmp.path().join(file), text.as_str().unwrap_or("")).expect("write");
        }
        let got = find_manifest_files(tmp.path(), tmp.path(), &options(&case["directory"]))
            .expect("find");
        let want = case["expect"]["objects"].as_array().map(Vec::len).unwrap_or(0);
        report.check(&name, got.files.len() == want, || format!("{got:?}"));
    }
    for (i, case) in dir["glob_match"]["cases"].as_array().expect("cases").iter().enumerate() {
        let (pattern, text) = (s(case, "pattern"), s(case, "text"));
        let mut ok = glob_match(&pattern, &text) == case["expect"].as_bool().unwrap_or(false);
        if let Some(err) = case["match_with_error_contains"].as_str() {
            ok &= Glob::new(&pattern).err().is_some_and(|e| e.to_string().contains(err));
        }
        report.check(&format!("glob_match[{i}] {pattern:?}"), ok, || "mismatch".into());
    }

    for section in [
        "refresh_paths",
        "value_file_resolution",
        "url_scheme_allowed",
        "symlink_resolution",
        "relative_path_and_inbound",
        "helm_value_files",
        "generate_manifests_symlinks",
        "resolved_value_files",
    ] {
        report.skip(section, "Helm value files, manifest-generate-paths and GenerateManifest are not in weir-gitops yet");
    }
    report.finish("paths");
}

/// Issue 16, item 6: the over-size error names the file that crossed the limit, the total and
/// the limit, after Argo CD's own words (sizes: 100 + 100 bytes against a 150-byte limit).
#[test]
fn the_over_size_error_names_the_file_and_the_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("sub")).expect("mkdir");
    std::fs::write(tmp.path().join("a.yaml"), "x".repeat(100)).expect("write");
    std::fs::write(tmp.path().join("sub/b.yaml"), "x".repeat(100)).expect("write");
    let opts =
        DirectoryOptions { recurse: true, max_combined_size: 150, ..DirectoryOptions::default() };
    let error = find_manifest_files(tmp.path(), tmp.path(), &opts).expect_err("over the limit");
    assert_eq!(
        error.to_string(),
        "exceeded max combined manifest file size: \"sub/b.yaml\" brings the total to 200 bytes, \
         over the limit of 150 bytes"
    );
}
