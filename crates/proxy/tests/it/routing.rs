//! Host matching, route matching, weighted splits, header operations, rewrites, validation.

use weir_proxy::{
    CONNECT_FAILURE, HeaderMatch, HeaderOperations, HeaderOps, NO_HEALTHY_UPSTREAM, Rewrite, Role,
    Route, RouteMatch, RouteTable, StringMatch, VirtualHost,
};

use crate::support::{self, Upstream, backend, client, get, mesh_hosts, raw, tally};

fn gateway_vhost(routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        name: "bookinfo-gateway".into(),
        hosts: vec!["bookinfo.tetrate.com".into(), "*.example.com".into()],
        port: None,
        routes,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_split_90_10_over_2000_requests() {
    let (v1, v2) = (Upstream::start("v1").await, Upstream::start("v2").await);
    let mut table = RouteTable::default();
    table.backends.insert("stable".into(), backend(&[v1.addr], "v1"));
    table.backends.insert("canary".into(), backend(&[v2.addr], "v2"));
    table.gateway.push(gateway_vhost(vec![Route::weighted(&[("stable", 90), ("canary", 10)])]));
    let proxy = support::proxy(&table).await;
    let gw = proxy.addr(Role::Gateway).expect("gateway");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut bodies = Vec::new();
            for _ in 0..500 {
                let r =
                    get(&c, gw, "bookinfo.tetrate.com", "/productpage", &[]).await.expect("reply");
                assert_eq!(r.status, 200);
                bodies.push(r.body);
            }
            bodies
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        bodies.extend(t.await.expect("task"));
    }
    let (n1, n2) = (tally(&bodies, "v1"), tally(&bodies, "v2"));
    assert_eq!(n1 + n2, 2000);
    let share = n2 as f64 / 2000.0 * 100.0;
    assert!((7.0..=13.0).contains(&share), "canary share {share}% (v1 {n1}, v2 {n2})");
    // smooth weighted round-robin is exact over whole periods
    assert_eq!((n1, n2), (1800, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_matched_route_sends_only_matching_requests_to_canary() {
    let (v1, v2) = (Upstream::start("v1").await, Upstream::start("v2").await);
    let mut table = RouteTable::default();
    table.backends.insert("stable".into(), backend(&[v1.addr], "v1"));
    table.backends.insert("canary".into(), backend(&[v2.addr], "v2"));
    let canary_route = Route {
        name: "header-route".into(),
        matches: vec![RouteMatch {
            headers: vec![(
                "x-canary".into(),
                HeaderMatch::Value(StringMatch::Exact("always".into())),
            )],
            ..RouteMatch::default()
        }],
        ..Route::to("canary")
    };
    table.gateway.push(gateway_vhost(vec![canary_route, Route::to("stable")]));
    let proxy = support::proxy(&table).await;
    let gw = proxy.addr(Role::Gateway).expect("gateway");
    let c = client();
    for i in 0..100 {
        let with = i % 2 == 0;
        let headers: &[(&str, &str)] =
            if with { &[("x-canary", "always")] } else { &[("x-canary", "never")] };
        let r = get(&c, gw, "bookinfo.tetrate.com", "/", headers).await.expect("reply");
        assert_eq!(r.body, if with { "v2" } else { "v1" });
    }
    assert_eq!((v1.hits(), v2.hits()), (50, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_matches_host_and_mesh_serves_absolute_form_and_host_requests() {
    let (reviews, product) =
        (Upstream::start("reviews").await, Upstream::start("productpage").await);
    let mut table = RouteTable::default();
    table.backends.insert("reviews".into(), backend(&[reviews.addr], "v1"));
    table.backends.insert("productpage".into(), backend(&[product.addr], "v1"));
    table.gateway.push(gateway_vhost(vec![Route::to("productpage")]));
    table.mesh.push(VirtualHost::service("reviews", mesh_hosts("reviews"), "reviews"));
    let proxy = support::proxy(&table).await;
    let (gw, mesh) =
        (proxy.addr(Role::Gateway).expect("gw"), proxy.addr(Role::Mesh).expect("mesh"));
    let c = client();
    for host in [
        "bookinfo.tetrate.com",
        "bookinfo.tetrate.com:8080",
        "BookInfo.Tetrate.com",
        "a.example.com",
    ] {
        let r = get(&c, gw, host, "/productpage", &[]).await.expect("reply");
        assert_eq!((r.status, r.body.as_str()), (200, "productpage"), "host {host}");
    }
    // service hosts are not served on the gateway, and unknown hosts get 404
    assert_eq!(get(&c, gw, "reviews", "/", &[]).await.expect("reply").status, 404);
    assert_eq!(get(&c, gw, "example.com", "/", &[]).await.expect("reply").status, 404);
    // the mesh listener: Host header with or without port, short and long names
    for host in
        ["reviews", "reviews:9080", "reviews.bookinfo", "reviews.bookinfo.svc.cluster.local:9080"]
    {
        let r = get(&c, mesh, host, "/reviews/0", &[]).await.expect("reply");
        assert_eq!((r.status, r.body.as_str()), (200, "reviews"), "host {host}");
    }
    assert_eq!(get(&c, mesh, "bookinfo.tetrate.com", "/", &[]).await.expect("reply").status, 404);
    // absolute-form, as clients using HTTP_PROXY send it
    let text = raw(
        mesh,
        "GET http://reviews:9080/reviews/1?x=1 HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("reviews"), "{text}");
    let text = raw(
        mesh,
        "GET http://ratings.bookinfo/ HTTP/1.1\r\nHost: ratings.bookinfo\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    let seen = reviews.seen();
    let last = seen.last().expect("seen");
    assert_eq!(last.path, "/reviews/1?x=1", "origin-form upstream");
    assert_eq!(last.headers.get("host").expect("host"), "reviews:9080");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_404_no_endpoint_is_503_and_refused_connection_is_503() {
    let v1 = Upstream::start("v1").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut table = RouteTable::default();
    table.backends.insert("stable".into(), backend(&[v1.addr], "v1"));
    table.backends.insert("empty".into(), backend(&[], "v2"));
    table.backends.insert("dead".into(), backend(&[closed], "v3"));
    let only_api = Route {
        matches: vec![RouteMatch {
            uri: Some(StringMatch::Prefix("/api".into())),
            ..RouteMatch::default()
        }],
        ..Route::to("stable")
    };
    let empty = Route {
        matches: vec![RouteMatch {
            uri: Some(StringMatch::Exact("/empty".into())),
            ..RouteMatch::default()
        }],
        ..Route::to("empty")
    };
    let dead = Route {
        matches: vec![RouteMatch {
            uri: Some(StringMatch::Regex("/dead/[0-9]+".into())),
            ..RouteMatch::default()
        }],
        ..Route::to("dead")
    };
    table.gateway.push(gateway_vhost(vec![only_api, empty, dead]));
    let proxy = support::proxy(&table).await;
    let gw = proxy.addr(Role::Gateway).expect("gw");
    let c = client();
    assert_eq!(get(&c, gw, "bookinfo.tetrate.com", "/api/x", &[]).await.expect("r").status, 200);
    assert_eq!(get(&c, gw, "bookinfo.tetrate.com", "/web", &[]).await.expect("r").status, 404);
    let r = get(&c, gw, "bookinfo.tetrate.com", "/empty", &[]).await.expect("r");
    assert_eq!((r.status, r.body.as_str()), (503, NO_HEALTHY_UPSTREAM));
    let r = get(&c, gw, "bookinfo.tetrate.com", "/dead/7", &[]).await.expect("r");
    assert_eq!((r.status, r.body.as_str()), (503, CONNECT_FAILURE));
    assert_eq!(get(&c, gw, "bookinfo.tetrate.com", "/dead/x", &[]).await.expect("r").status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_operations_and_rewrites_reach_upstream_and_client() {
    let v1 = Upstream::start("v1").await;
    let mut table = RouteTable::default();
    table.backends.insert("stable".into(), backend(&[v1.addr], "v1"));
    let mut route = Route {
        matches: vec![RouteMatch {
            uri: Some(StringMatch::Prefix("/api".into())),
            ..RouteMatch::default()
        }],
        headers: HeaderOperations {
            request: HeaderOps {
                set: vec![("x-set".into(), "route".into())],
                add: vec![("x-add".into(), "a".into())],
                remove: vec!["x-remove".into()],
            },
            response: HeaderOps {
                set: vec![("x-resp".into(), "yes".into())],
                remove: vec!["x-upstream".into()],
                ..HeaderOps::default()
            },
        },
        rewrite: Some(Rewrite {
            uri: Some("/v2".into()),
            authority: Some("reviews-internal".into()),
        }),
        ..Route::to("stable")
    };
    route.destinations[0].headers.request.set.push(("x-dest".into(), "stable".into()));
    table.gateway.push(gateway_vhost(vec![route]));
    let proxy = support::proxy(&table).await;
    let gw = proxy.addr(Role::Gateway).expect("gw");
    let c = client();
    let r = get(
        &c,
        gw,
        "bookinfo.tetrate.com",
        "/api/items?q=1",
        &[("x-remove", "1"), ("x-set", "client")],
    )
    .await
    .expect("r");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("x-resp").expect("x-resp"), "yes");
    assert!(r.headers.get("x-upstream").is_none());
    let seen = v1.seen();
    let s = seen.last().expect("seen");
    assert_eq!(s.path, "/v2/items?q=1");
    assert_eq!(s.headers.get("host").expect("host"), "reviews-internal");
    assert_eq!(s.headers.get("x-set").expect("x-set"), "route");
    assert_eq!(s.headers.get("x-add").expect("x-add"), "a");
    assert_eq!(s.headers.get("x-dest").expect("x-dest"), "stable");
    assert!(s.headers.get("x-remove").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_table_is_rejected_and_the_last_good_one_keeps_serving() {
    let (v1, v2) = (Upstream::start("v1").await, Upstream::start("v2").await);
    let mut table = RouteTable::default();
    table.backends.insert("stable".into(), backend(&[v1.addr], "v1"));
    table.backends.insert("canary".into(), backend(&[v2.addr], "v2"));
    table.gateway.push(gateway_vhost(vec![Route::to("stable")]));
    let proxy = support::proxy(&table).await;
    let gw = proxy.addr(Role::Gateway).expect("gw");
    let mut bad = table.clone();
    bad.gateway[0].routes = vec![
        Route::weighted(&[("stable", 0), ("canary", 0)]),
        Route {
            matches: vec![RouteMatch {
                uri: Some(StringMatch::Regex("([".into())),
                ..RouteMatch::default()
            }],
            ..Route::to("missing-subset")
        },
    ];
    let err = proxy.update(&bad).expect_err("rejected");
    assert_eq!(err.0.len(), 3, "{err}");
    assert_eq!(proxy.rejected_updates(), 1);
    let c = client();
    assert_eq!(get(&c, gw, "bookinfo.tetrate.com", "/", &[]).await.expect("r").body, "v1");
    let mut good = table.clone();
    good.gateway[0].routes = vec![Route::to("canary")];
    proxy.update(&good).expect("valid");
    assert_eq!(get(&c, gw, "bookinfo.tetrate.com", "/", &[]).await.expect("r").body, "v2");
}
