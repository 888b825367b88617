//! Hostile repositories (spec §7, §9): each is refused with a clear ComparisonError and nothing
//! of it is applied, even with auto-sync and prune on; unreachable repositories and unknown
//! revisions are retried with backoff until they appear. Real git repositories (`file://` and
//! `git daemon`) and a real `weir_store::Store`.

mod common;

use std::os::unix::ffi::OsStrExt;

use common::*;
use serde_json::json;
use weir_cluster::Cluster;

/// Every hostile directory also holds a valid manifest: it must not be applied either.
fn with_bait(dir: &str) -> (String, String) {
    (format!("{dir}/bait.yaml"), config_map(&format!("bait-{dir}"), "1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_repositories_are_refused_with_a_clear_message_and_nothing_applied() {
    let root = tempfile::tempdir().expect("tempdir");
    // Given one repository per kind of hostile content (Argo CD refuses a whole repository
    // with an escaping symlink anywhere in it, so they cannot share one).
    let repo_of = |name: &str, files: &[(String, String)]| {
        let repo = new_repo(root.path(), name);
        for (path, text) in files.iter().chain([&with_bait("app")]) {
            let full = repo.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        }
        repo
    };
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n");
    bomb.push_str("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in levels.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 8].join(",");
        bomb.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    // Over the 10 MiB cap, in a valid YAML file (one long comment line).
    let mut huge = config_map("huge", "1");
    huge.push('#');
    huge.push_str(&"x".repeat(10 * 1024 * 1024 + 1));
    huge.push('\n');
    let plain = repo_of("plain", &[]);
    let passwd = repo_of("passwd", &[]);
    std::os::unix::fs::symlink("/etc/passwd", passwd.join("app/passwd.yaml")).expect("symlink");
    let looping = repo_of("loop", &[]);
    std::os::unix::fs::symlink("loop-b.yaml", looping.join("app/loop-a.yaml")).expect("symlink");
    std::os::unix::fs::symlink("loop-a.yaml", looping.join("app/loop-b.yaml")).expect("symlink");
    let huge = repo_of("huge", &[("app/huge.yaml".into(), huge)]);
    let bomb = repo_of("bomb", &[("app/bomb.yaml".into(), bomb)]);
    let names = repo_of("names", &[]);
    let bad_name = std::ffi::OsStr::from_bytes(b"bad-\xff\xfe.yaml");
    std::fs::write(names.join("app").join(bad_name), config_map("bad-name", "1")).expect("write");
    let cases = [
        ("dotdot", &plain, "../..", "../..: app path outside root"),
        ("absolute", &plain, "/etc", "/etc: app path is absolute"),
        (
            "passwd",
            &passwd,
            "app",
            "repository contains out-of-bounds symlinks. file: app/passwd.yaml",
        ),
        ("loop", &looping, "app", "too many links"),
        ("huge", &huge, "app", "exceeded max combined manifest file size"),
        ("bomb", &bomb, "app", "bomb.yaml: YAML aliases expand to more than"),
        ("names", &names, "app", "file name is not valid UTF-8"),
    ];
    for (_, repo, _, _) in &cases {
        commit(repo, &[], "hostile");
    }
    let h = start(root.path(), false).await;
    // When apps with auto-sync and prune point at each.
    let policy = json!({"automated": {"prune": true, "selfHeal": true}});
    for (name, repo, path, _) in &cases {
        let mut app = application(name, &file_url(repo), path, policy.clone());
        app.data["spec"]["destination"]["namespace"] = json!(format!("ns-{name}"));
        h.create(&app).await;
    }
    // Then each gets a ComparisonError naming the problem, its sync status is Unknown and
    // nothing of the repository is applied.
    for (name, _, _, message) in &cases {
        let app = h
            .wait_app(name, &format!("the ComparisonError of {name}"), |a| {
                !comparison_error(a).is_empty()
            })
            .await;
        let error = comparison_error(&app);
        assert!(error.contains(message), "{name}: {error}");
        assert!(!error.contains("root:x:0"), "{name}: no file content leaks: {error}");
        assert_eq!(sync_status(&app).0, "Unknown", "{name}");
        assert!(app["status"].get("operationState").is_none(), "{name}: no operation");
    }
    for (name, _, _, _) in &cases {
        let ns = format!("ns-{name}");
        let listed = h
            .store
            .list(&rt("configmaps"), Some(&ns), &weir_cluster::ListParams::default())
            .await
            .expect("list");
        assert!(listed.items.is_empty(), "{name}: applied {:?}", listed.items);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_repositories_and_revisions_are_retried_with_backoff_until_they_appear() {
    let root = tempfile::tempdir().expect("tempdir");
    let served = root.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let (_daemon, base) = git_daemon(&served);
    // Wait for the daemon with a repository that exists.
    let probe = new_repo(root.path(), "probe");
    commit(&probe, &[("x.yaml", Some(&config_map("x", "1")))], "probe");
    git(root.path(), &["clone", "--quiet", "--bare", "probe", "served/probe.git"]);
    wait_git(&format!("{base}/probe.git"));
    let h = start(root.path(), false).await;
    // Given an app whose repository does not exist yet, and one whose branch does not.
    let url = format!("{base}/later.git");
    h.create(&application("later", &url, "app", json!({"automated": {}}))).await;
    let mut branch = application("branch", &url, "app", json!({"automated": {}}));
    branch.data["spec"]["source"]["targetRevision"] = json!("release");
    branch.data["spec"]["destination"]["namespace"] = json!("release");
    h.create(&branch).await;
    // Then both show a ComparisonError.
    let app = h.wait_app("later", "repo not found", |a| !comparison_error(a).is_empty()).await;
    assert!(
        comparison_error(&app).starts_with("Failed to load target state"),
        "{}",
        comparison_error(&app)
    );
    h.wait_app("branch", "repo not found", |a| !comparison_error(a).is_empty()).await;
    // When the repository is pushed (without the branch), the first app recovers on its own
    // (the resync period is an hour: only the error retry can explain it) …
    let repo = new_repo(root.path(), "later");
    let head = commit(&repo, &[("app/cm.yaml", Some(&config_map("later", "1")))], "first");
    git(root.path(), &["clone", "--quiet", "--bare", "later", "served/later.git"]);
    let app =
        h.wait_app("later", "recovery", |a| sync_status(a) == ("Synced", &head, "Healthy")).await;
    assert!(comparison_error(&app).is_empty());
    // … while the missing branch is still an error, until it is pushed.
    let app = h.app("branch").await;
    let error = comparison_error(&app);
    assert!(error.contains("unable to resolve 'release' to a commit SHA"), "{error}");
    git(
        &repo,
        &["push", "--quiet", &format!("{}", served.join("later.git").display()), "main:release"],
    );
    h.wait_app("branch", "recovery of the branch", |a| {
        sync_status(a) == ("Synced", &head, "Healthy")
    })
    .await;
    assert!(h.get("configmaps", Some("release"), "later").await.is_some());
    h.stop().await;
}

/// Issue 15 item 1: a bare repository whose `HEAD` names a branch that does not exist (made
/// with another default branch, then only `main` pushed) must not break an app that asks for
/// `main`; only an app that asks for `HEAD` gets an error, and it names the revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dangling_remote_head_only_fails_the_apps_that_ask_for_head() {
    let root = tempfile::tempdir().expect("tempdir");
    // Given a bare repository whose HEAD says `master`, with only `main` pushed.
    let bare = root.path().join("dangling.git");
    std::fs::create_dir_all(&bare).expect("mkdir");
    git(&bare, &["init", "--quiet", "--bare", "-b", "master"]);
    let work = new_repo(root.path(), "work");
    let head = commit(&work, &[("app/cm.yaml", Some(&config_map("dangling", "1")))], "first");
    git(&work, &["push", "--quiet", &bare.display().to_string(), "main:main"]);
    let h = start(root.path(), false).await;
    // When one app targets `main` and one targets `HEAD`.
    let mut main = application("on-main", &file_url(&bare), "app", json!({"automated": {}}));
    main.data["spec"]["source"]["targetRevision"] = json!("main");
    h.create(&main).await;
    let mut on_head = application("on-head", &file_url(&bare), "app", json!({"automated": {}}));
    on_head.data["spec"]["destination"]["namespace"] = json!("head");
    h.create(&on_head).await;
    // Then the `main` app syncs the commit …
    let app = h
        .wait_app("on-main", "synced on main", |a| sync_status(a) == ("Synced", &head, "Healthy"))
        .await;
    assert!(comparison_error(&app).is_empty(), "{}", comparison_error(&app));
    assert!(h.get("configmaps", Some("apps"), "dangling").await.is_some());
    // … and the `HEAD` app shows that HEAD resolves to nothing, with nothing applied.
    let app = h.wait_app("on-head", "HEAD error", |a| !comparison_error(a).is_empty()).await;
    let error = comparison_error(&app);
    assert!(error.contains("unable to resolve 'HEAD' to a commit SHA"), "{error}");
    assert!(h.get("configmaps", Some("head"), "dangling").await.is_none());
    h.stop().await;
}

/// Copies the directory `from` (files and subdirectories) to `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Issue 15 item 3: a Helm chart or a Kustomize directory (argocd-example-apps' own
/// helm-guestbook and kustomize-guestbook) with no tool to render them is a ComparisonError
/// that names the missing tool: never an empty success, never its files parsed as manifests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_and_kustomize_directories_without_a_renderer_are_comparison_errors() {
    let fixtures =
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures"))
            .join("argocd-example-apps");
    if !fixtures.is_dir() {
        eprintln!("skipped: {} is absent", fixtures.display());
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    // Given a repository holding both example apps, and a kustomization named `Kustomization`.
    let repo = new_repo(root.path(), "tools");
    copy_dir(&fixtures.join("helm-guestbook"), &repo.join("helm-guestbook"));
    copy_dir(&fixtures.join("kustomize-guestbook"), &repo.join("kustomize-guestbook"));
    copy_dir(&fixtures.join("kustomize-guestbook"), &repo.join("capital"));
    std::fs::rename(repo.join("capital/kustomization.yaml"), repo.join("capital/Kustomization"))
        .expect("rename");
    commit(&repo, &[], "example apps");
    let h = start(root.path(), false).await;
    // When auto-synced apps with prune point at each.
    let cases = [
        ("helm", "helm-guestbook", "helm-guestbook is a Helm chart (Chart.yaml): Helm sources"),
        (
            "kustomize",
            "kustomize-guestbook",
            "kustomize-guestbook is a Kustomize directory (kustomization.yaml): Kustomize sources",
        ),
        ("capital", "capital", "capital is a Kustomize directory (Kustomization): Kustomize"),
    ];
    let policy = json!({"automated": {"prune": true, "selfHeal": true}});
    for (name, path, _) in &cases {
        let mut app = application(name, &file_url(&repo), path, policy.clone());
        app.data["spec"]["destination"]["namespace"] = json!(format!("ns-{name}"));
        h.create(&app).await;
    }
    // Then each is a ComparisonError naming the tool and what to do, and nothing is applied.
    for (name, _, message) in &cases {
        let app = h
            .wait_app(name, &format!("the ComparisonError of {name}"), |a| {
                !comparison_error(a).is_empty()
            })
            .await;
        let error = comparison_error(&app);
        assert!(error.contains(message), "{name}: {error}");
        assert!(error.contains("config management plugin"), "{name}: {error}");
        assert_eq!(sync_status(&app).0, "Unknown", "{name}");
        assert!(app["status"].get("operationState").is_none(), "{name}: no operation");
    }
    for (name, _, _) in &cases {
        let ns = format!("ns-{name}");
        for kind in ["deployments", "services"] {
            let listed = h
                .store
                .list(&rt(kind), Some(&ns), &weir_cluster::ListParams::default())
                .await
                .expect("list");
            assert!(listed.items.is_empty(), "{name}: applied {:?}", listed.items);
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_whose_status_would_be_too_large_gets_a_summarized_status_and_says_so() {
    // Given 4,800 ConfigMaps with the longest names (253 characters; 1.5 MiB of manifests,
    // under the 10 MiB cap): listed in full, status.resources alone would be about 1.8 MiB,
    // over what an API server backed by etcd stores (1.5 MiB by default).
    const COUNT: usize = 4800;
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "large");
    let long = "x".repeat(244);
    for file in 0..6 {
        let mut text = String::new();
        for i in (file * COUNT / 6)..((file + 1) * COUNT / 6) {
            text.push_str(&config_map(&format!("cm-{i:05}-{long}"), "1"));
            text.push_str("---\n");
        }
        std::fs::create_dir_all(repo.join("app")).expect("mkdir");
        std::fs::write(repo.join(format!("app/part-{file}.yaml")), text).expect("write");
    }
    commit(&repo, &[], "a large app");
    let h = start(root.path(), false).await;
    // When an app (not auto-synced: every resource is OutOfSync and Missing) points at it.
    h.create(&application("large", &file_url(&repo), "app", json!({}))).await;
    // Then its status is written, with as many resources as fit and a condition saying so.
    let app = h
        .wait_app("large", "a written status with the truncation condition", |a| {
            a["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == weir_app_controller::RESOURCES_TRUNCATED)
            })
        })
        .await;
    assert_eq!(sync_status(&app).0, "OutOfSync");
    assert_eq!(app["status"]["health"]["status"], "Missing");
    let listed = app["status"]["resources"].as_array().map_or(0, Vec::len);
    assert!(listed > 1000 && listed < COUNT, "{listed} resources listed");
    let condition = app["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == weir_app_controller::RESOURCES_TRUNCATED))
        .cloned()
        .unwrap_or_default();
    let message = condition["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("status.resources lists {listed} of {COUNT} resources")),
        "{message}"
    );
    assert!(message.contains(&format!("All {COUNT}: {COUNT} OutOfSync")), "{message}");
    let size = serde_json::to_vec(&app).expect("json").len();
    assert!(size <= weir_app_controller::OBJECT_BUDGET, "{size} bytes");
    h.stop().await;
}

/// Issue 15, bad input: a repository with no branches at all, and a revision no repository
/// has, are ComparisonErrors naming the revision, while an app on a good repository syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_repository_and_an_unknown_revision_fail_only_their_apps() {
    let root = tempfile::tempdir().expect("tempdir");
    let empty = new_repo(root.path(), "empty");
    let good = new_repo(root.path(), "good");
    let head = commit(&good, &[("app/cm.yaml", Some(&config_map("good", "1")))], "first");
    let h = start(root.path(), false).await;
    h.create(&application("empty", &file_url(&empty), "app", json!({"automated": {}}))).await;
    let mut unknown = application("unknown", &file_url(&good), "app", json!({"automated": {}}));
    unknown.data["spec"]["source"]["targetRevision"] = json!("v9.9.9");
    h.create(&unknown).await;
    h.create(&application("good", &file_url(&good), "app", json!({"automated": {}}))).await;
    let app = h.wait_app("empty", "its error", |a| !comparison_error(a).is_empty()).await;
    let error = comparison_error(&app);
    assert!(error.contains("unable to resolve 'HEAD' to a commit SHA"), "{error}");
    let app = h.wait_app("unknown", "its error", |a| !comparison_error(a).is_empty()).await;
    let error = comparison_error(&app);
    assert!(error.contains("unable to resolve 'v9.9.9' to a commit SHA"), "{error}");
    h.wait_app("good", "its sync", |a| sync_status(a) == ("Synced", &head, "Healthy")).await;
    h.stop().await;
}

/// Issue 16 item 6: a clone larger than the limit is not kept, and the error names the
/// repository and the limit; asking for the same commit again fails without a download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_over_the_size_limit_is_refused_and_not_kept() {
    let root = tempfile::tempdir().expect("tempdir");
    let repo = new_repo(root.path(), "big");
    // 3 MiB that git cannot compress (xorshift bytes).
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let noise: Vec<u8> = (0..3 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(repo.join("blob.bin"), noise).expect("write");
    let head = commit(&repo, &[("app/cm.yaml", Some(&config_map("big", "1")))], "big");
    let cache = root.path().join("cache");
    let repos = weir_app_controller::git::Repos::new(&cache).with_max_size_mib(1);
    let url = file_url(&repo);
    let sha = repos.resolve(&url, "main", None).await.expect("resolves");
    assert_eq!(sha, head);
    for attempt in 0..2 {
        let error = repos.with_checkout(&url, &sha, None, |_| ()).await.expect_err("too large");
        let text = error.to_string();
        assert!(text.starts_with(&format!("repository {url} is ")), "{attempt}: {text}");
        assert!(text.ends_with("MiB, over the limit of 1 MiB (WEIR_MAX_REPO_SIZE_MIB)"), "{text}");
        let kept: Vec<_> = std::fs::read_dir(&cache).expect("cache").flatten().collect();
        assert!(kept.is_empty(), "{attempt}: the clone is not kept: {kept:?}");
    }
    // Under a larger limit the same repository is read.
    let repos = weir_app_controller::git::Repos::new(&cache).with_max_size_mib(64);
    repos
        .with_checkout(&url, &sha, None, |dir| assert!(dir.join("app/cm.yaml").is_file()))
        .await
        .expect("read");
}
