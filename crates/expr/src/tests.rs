//! Focused unit tests of the whole pipeline.

use crate::argo::{self, Phase, evaluate_condition, evaluate_result, evaluate_time};
use crate::{Env, Value, compile, eval};

fn run(src: &str) -> Result<Value, String> {
    eval(src, &Env::new()).map_err(|e| e.to_string())
}

fn ok(src: &str) -> Value {
    run(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn skywalking(values: &[f64]) -> Value {
    let items: Vec<serde_json::Value> =
        values.iter().map(|v| serde_json::json!({ "value": v })).collect();
    Value::from_json_go(&serde_json::json!({
        "service_apdex": {"label": null, "values": {"values": items}}
    }))
}

const SEED: &str = "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})";

#[test]
fn seed_condition_on_skywalking_data() {
    assert_eq!(evaluate_condition(SEED, &skywalking(&[9950.0, 10000.0])), Ok(true));
    assert_eq!(evaluate_condition(SEED, &skywalking(&[9950.0, 9899.0])), Ok(false));
    // all([]) is true: no data means success (the documented pitfall).
    assert_eq!(evaluate_condition(SEED, &skywalking(&[])), Ok(true));
    let (phase, err) = evaluate_result(&skywalking(&[9000.0]), SEED, "");
    assert_eq!((phase, err), (Phase::Failed, None));
    // A missing value: asFloat(nil) is an error.
    let data = Value::from_json_go(&serde_json::json!({
        "service_apdex": {"values": {"values": [{"other": 1}]}}
    }));
    let err = evaluate_condition(SEED, &data).unwrap_err();
    assert_eq!(err, "asFloat() not supported on <nil> <nil>");
}

#[test]
fn closures_and_pointer_shorthand() {
    assert_eq!(ok("all([], {# > 0})"), Value::Bool(true));
    assert_eq!(ok("any([], {# > 0})"), Value::Bool(false));
    assert_eq!(ok("filter([1, 2, 3, 4], # % 2 == 0)"), ok("[2, 4]"));
    assert_eq!(ok("map([{a: 1}, {a: 2}], .a * 10)"), ok("[10, 20]"));
    assert_eq!(ok("map([{a: {b: 5}}], {.a.b})"), ok("[5]"));
    assert_eq!(ok("map([3, 4], #index)"), ok("[0, 1]"));
    assert_eq!(ok("count([1, 2, 3], # > 1)"), Value::Int(2));
    assert_eq!(ok("one([1, 2, 3], # == 2)"), Value::Bool(true));
    assert_eq!(ok("none([1, 2], # > 5)"), Value::Bool(true));
    assert_eq!(ok("sum([1, 2, 3])"), Value::Int(6));
    assert_eq!(ok("sum([{v: 1.5}, {v: 2}], .v)"), Value::Float(3.5));
    assert_eq!(ok("find([1, 2, 3], # > 1)"), Value::Int(2));
    assert_eq!(ok("findLastIndex([1, 2, 3], # > 1)"), Value::Int(2));
    // Nested closures: the inner # is the inner element.
    assert_eq!(ok("all([[1, 2], [3]], {all(#, {# > 0})})"), Value::Bool(true));
    assert_eq!(ok("[1, 2, 3] | filter(# > 1) | len()"), Value::Int(2));
    // `.field` and `#` are only allowed inside predicates.
    assert!(run(".a").is_err());
    assert!(run("#").is_err());
}

#[test]
fn string_literals_with_dots_are_not_rewritten() {
    let result =
        Value::map([("a.b", Value::from("a.b")), ("a", Value::map([("b", Value::Int(1))]))]);
    assert_eq!(evaluate_condition(r#"result["a.b"] == "a.b""#, &result), Ok(true));
    assert_eq!(evaluate_condition(r#"result.a.b == 1"#, &result), Ok(true));
    assert_eq!(evaluate_condition(r#"all(["a.b", '.c'], {# contains "."})"#, &result), Ok(true));
    assert_eq!(ok(r#"".value" + '.x'"#), Value::from(".value.x"));
}

#[test]
fn numbers_follow_go() {
    assert_eq!(ok("1 == 1.0"), Value::Bool(true));
    assert_eq!(ok("7 / 2"), Value::Float(3.5));
    assert_eq!(ok("7 % 3"), Value::Int(1));
    assert_eq!(ok("2 ** 3"), Value::Float(8.0));
    assert_eq!(ok("-3 + 1"), Value::Int(-2));
    assert_eq!(ok("1 / 0"), Value::Float(f64::INFINITY));
    assert!(run("1 % 0").is_err());
    assert_eq!(ok("[1, 2, 3][-1]"), Value::Int(3));
    assert_eq!(ok("[1, 2, 3][1:]"), ok("[2, 3]"));
    assert_eq!(ok("\"hello\"[1:3]"), Value::from("el"));
    assert_eq!(ok("1..3"), ok("[1, 2, 3]"));
    assert_eq!(ok("2 in 1..3"), Value::Bool(true));
    assert_eq!(ok("max([1, 5.5, 3])"), Value::Float(5.5));
    assert_eq!(ok("min(4, 2, 8)"), Value::Int(2));
    assert_eq!(ok("abs(-2)"), Value::Int(2));
    assert_eq!(ok("round(2.5)"), Value::Float(3.0));
    assert_eq!(ok("int(\"42\") + int(2.9)"), Value::Int(44));
    assert_eq!(ok("string(1.5)"), Value::from("1.5"));
    assert_eq!(ok("nil ?? 3"), Value::Int(3));
    assert_eq!(ok("{a: nil}?.a?.b ?? 'd'"), Value::from("d"));
    assert_eq!(ok("true ? 1 : 2"), Value::Int(1));
    assert_eq!(ok("'abc' matches '^a.c$' and 'abc' startsWith 'ab'"), Value::Bool(true));
    assert_eq!(ok("'x' not in ['a']"), Value::Bool(true));
    assert_eq!(ok("split('a,b', ',') | join('-')"), Value::from("a-b"));
    assert_eq!(ok("len(keys({a: 1, b: 2}))"), Value::Int(2));
    assert_eq!(ok("upper(trim('  a '))"), Value::from("A"));
    // Strings never equal numbers: a compile error when both types are known...
    assert_eq!(
        run(r#"1 == "1""#).unwrap_err(),
        "invalid operation: == (mismatched types int and string)"
    );
    // ...and plain false when one side is only known at run time.
    let env = Env::new().with_var("m", Value::map([("x", Value::Float(1.0))]));
    assert_eq!(eval(r#"m.x == "1""#, &env), Ok(Value::Bool(false)));
    assert_eq!(
        run("'a' < 1").unwrap_err(),
        "invalid operation: < (mismatched types string and int)"
    );
    assert_eq!(
        eval(r#"m.x < "1""#, &env).map_err(|e| e.to_string()).unwrap_err(),
        "invalid operation: float64 < string"
    );
}

#[test]
fn nan_and_inf() {
    let nan = Value::Float(f64::NAN);
    assert_eq!(evaluate_condition("result >= 0.9", &nan), Ok(false));
    assert_eq!(evaluate_condition("result < 0.9", &nan), Ok(false));
    assert_eq!(evaluate_condition("result == result", &nan), Ok(false));
    assert_eq!(evaluate_condition("isNaN(result)", &nan), Ok(true));
    assert_eq!(evaluate_result(&nan, "result >= 0.9", "result < 0.9").0, Phase::Inconclusive);
    let inf = Value::Float(f64::NEG_INFINITY);
    assert_eq!(evaluate_condition("isInf(result)", &inf), Ok(true));
    assert_eq!(evaluate_condition("asFloat('NaN') != 0", &inf), Ok(true));
}

#[test]
fn time_and_durations() {
    assert_eq!(ok(r#"duration("1h30m").Minutes()"#), Value::Float(90.0));
    assert_eq!(ok(r#"string(duration("90s"))"#), Value::from("1m30s"));
    assert_eq!(ok(r#"now() - duration("5m") < now()"#), Value::Bool(true));
    let t = evaluate_time(r#"date("2023-08-14T00:00:00Z") - duration("30m")"#).unwrap();
    assert_eq!(t.to_rfc3339(), "2023-08-13T23:30:00Z");
    assert_eq!(ok(r#"date("2023-08-14").Unix()"#), Value::Int(1_691_971_200));
    assert_eq!(
        evaluate_time(r#"now() - duration("??")"#).unwrap_err(),
        r#"time: invalid duration "??""#
    );
    assert_eq!(evaluate_time("1").unwrap_err(), "expected time.Time, but got int");
}

#[test]
fn compile_once_run_many() {
    let program = compile("result > 10").unwrap();
    let hits: Vec<bool> = [5.0, 15.0, 25.0]
        .iter()
        .map(|f| crate::argo::evaluate_program(&program, &Value::Float(*f)).unwrap())
        .collect();
    assert_eq!(hits, [false, true, true]);
}

#[test]
fn deep_but_allowed_trees_evaluate() {
    let chain = vec!["1"; 250].join(" + ");
    assert_eq!(ok(&chain), Value::Int(250));
    let ors = vec!["false"; 250].join(" || ") + " || true";
    assert_eq!(ok(&ors), Value::Bool(true));
    let parens = "(".repeat(60) + "1" + &")".repeat(60);
    assert_eq!(ok(&parens), Value::Int(1));
}

#[test]
fn hostile_inputs_never_panic() {
    let nested = "(".repeat(10_000);
    let chain = vec!["1"; 20_000].join("+");
    let unary = "-".repeat(10_000) + "1";
    let brackets = "[".repeat(5_000);
    let members = "result".to_owned() + &".a".repeat(5_000);
    let inputs: Vec<&str> = vec![
        "",
        " ",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "{{",
        "#",
        "##",
        ".",
        "..",
        "...",
        "?",
        "?.",
        "??",
        ":",
        "::",
        ",",
        "\"",
        "'",
        "`",
        "\\",
        "'\\",
        "'\\u12'",
        "'\\xZZ'",
        "'\\777'",
        "1e",
        "1e999",
        "0x",
        "0xZZ",
        "0b2",
        "99999999999999999999",
        "1..",
        "..1",
        "1 ..",
        "a[",
        "a[:",
        "a[1:",
        "a?.[",
        "a?.",
        "a.",
        "a.1",
        "f(",
        "f(,)",
        "all(",
        "all(x",
        "all(x,",
        "all(x, {",
        "all(x, {#",
        "map(",
        "count()",
        "sum(,)",
        "1 ? 2",
        "1 ? : 3",
        "not",
        "not not",
        "a not",
        "a not b",
        "- - -",
        "+",
        "!",
        "1 + + 2",
        "/* unclosed",
        "// comment only",
        "a | ",
        "a | 1",
        "{a:}",
        "{1}",
        "{(1): 2}",
        "[1,,2]",
        "1..9999999999",
        "-9223372036854775807 - 10",
        "abs(-9223372036854775807 - 1)",
        "9223372036854775807 * 2",
        "1 % 0",
        "0 ** -1",
        "'a' matches '('",
        "'a' matches '[' + ']'",
        "date('x', 'y', 'z')",
        "date('2023-02-30')",
        "duration('999999999999h')",
        "duration('-')",
        "split('abc', '', 2)",
        "'é'[0]",
        "'é'[5]",
        "[1][9223372036854775807]",
        "[1][-9223372036854775807]",
        "[1][1.5]",
        "[1,2][-99:99]",
        "result[0]",
        "result.a.b.c",
        "result?.a.b",
        "int(1e300)",
        "int('x')",
        "float('1e999')",
        "asInt('99999999999999999999')",
        "max()",
        "min([])",
        "first([])",
        "now().Foo()",
        "duration('1s').Foo()",
        "1.Foo()",
        "nil.a",
        "nil[0]",
        "nil?.a",
        "all(nil, #)",
        "all({}, #)",
        "all({a: 1}, #)",
        "{a: 1} in {a: 1}",
        "1 in 'a'",
        "'a' contains 1",
        "isNaN('x')",
        "isNil()",
        "default(1)",
        "asFloat()",
        "a ?? b || c",
        "#index",
        "\u{0}",
        "\u{FEFF}1",
        "ä + ö",
        "$ + _",
        "result.in",
        "1 < 2 < 3 < 4",
        "1 == 1 == true",
        &nested,
        &chain,
        &unary,
        &brackets,
        &members,
    ];
    let result = Value::from_json_go(&serde_json::json!({"a": [1, 2], "b": null}));
    for input in inputs {
        // Only "no panic" is asserted; errors are fine.
        let _ = evaluate_result(&result, input, input);
        let _ = evaluate_time(input);
    }
}

#[test]
fn mean_median_and_prefix_helpers_follow_expr() {
    assert_eq!(ok("mean([1, 2, 4])"), Value::Float(7.0 / 3.0));
    assert_eq!(ok("mean(1, [2, 3.5])"), Value::Float(6.5 / 3.0));
    assert_eq!(ok("mean([])"), Value::Float(0.0));
    assert_eq!(ok("median([3, 1, 2])"), Value::Float(2.0));
    assert_eq!(ok("median([4, 1, 2, 3])"), Value::Float(2.5));
    assert_eq!(ok("median([])"), Value::Float(0.0));
    assert_eq!(ok("median([0.99, 0.5]) < 0.9 && mean([0.99, 0.97]) > 0.95"), Value::Bool(true));
    assert!(run("mean(['a'])").is_err_and(|e| e == "invalid argument for mean (type string)"));
    assert_eq!(ok("hasPrefix('reviews-v2', 'reviews')"), Value::Bool(true));
    assert_eq!(ok("hasSuffix('reviews-v2', 'v1')"), Value::Bool(false));
    assert!(run("hasPrefix(1, 'a')").is_err());
}

#[test]
fn let_bindings() {
    assert_eq!(ok("let x = 2; x * 3"), Value::Int(6));
    assert_eq!(ok("let x = 2; let y = x + 1; x * y"), Value::Int(6));
    assert_eq!(ok("let xs = [1, 2, 3]; all(xs, {let d = # * 2; d > 1})"), Value::Bool(true));
    assert_eq!(ok("(let s = 'a.b'; s + '.c') == 'a.b.c'"), Value::Bool(true));
    let data = skywalking(&[9950.0, 9990.0]);
    let cond =
        "let vs = result.service_apdex.values.values; len(vs) > 0 && all(vs, {.value >= 9900})";
    assert_eq!(evaluate_condition(cond, &data), Ok(true));
    assert!(run("let x = 1; let x = 2; x").is_err_and(|e| e == "cannot redeclare variable x"));
    assert!(run("let len = 1; len").is_err_and(|e| e == "cannot redeclare builtin len"));
    assert!(run("let all = 1; all").is_err_and(|e| e == "cannot redeclare builtin all"));
    assert!(
        evaluate_condition("let result = 1; result == 1", &Value::Int(1))
            .is_err_and(|e| e.contains("cannot redeclare result"))
    );
    assert!(run("let x = 1 x").is_err());
    assert!(run("let = 1; 2").is_err());
    assert!(run("let true = 1; 2").is_err());
    assert!(run("x + (let x = 1; x)").is_err_and(|e| e == "unknown name x"), "scoped to its body");
    assert!(run("let x = 1;").is_err());
}

#[test]
fn collection_helpers_follow_expr() {
    assert_eq!(
        ok("type(1) + type(1.5) + type('a') + type([]) + type({}) + type(nil)"),
        Value::from("intfloatstringarraymapnil")
    );
    assert_eq!(ok("get([1, 2], 5) == nil && get([1, 2], -1) == 2"), Value::Bool(true));
    assert_eq!(ok("get({'a.b': 1}, 'a.b') == 1 && get({'a': 1}, 'b') == nil"), Value::Bool(true));
    assert_eq!(ok("reverse([1, 2, 3]) == [3, 2, 1]"), Value::Bool(true));
    assert_eq!(ok("take([1, 2, 3], 2) == [1, 2] && take([1], 5) == [1]"), Value::Bool(true));
    assert_eq!(ok("uniq([1, 1, 2, 1.0]) == [1, 2, 1.0]"), Value::Bool(true));
    assert_eq!(ok("concat([1], [2, 3], []) == [1, 2, 3]"), Value::Bool(true));
    assert_eq!(ok("flatten([1, [2, [3]]]) == [1, 2, 3]"), Value::Bool(true));
    assert_eq!(ok("sort([3, 1.5, 2]) == [1.5, 2, 3]"), Value::Bool(true));
    assert_eq!(ok("sort(['b', 'a'], 'desc') == ['b', 'a']"), Value::Bool(true));
    assert_eq!(ok("repeat('ab', 2)"), Value::from("abab"));
    assert!(run("sort([1, 'a'])").is_err());
    assert!(run("sort([1], 'up')").is_err());
    assert!(run("reverse(1)").is_err_and(|e| e == "cannot reverse int"));
    assert!(run("concat([1], 2)").is_err());
    assert!(run("repeat('a', -1)").is_err());
    assert!(run("repeat('abc', 1000000000)").is_err(), "bounded");
}

#[test]
fn sort_by_and_group_by() {
    let data = Value::from_json_go(&serde_json::json!([
        {"pod": "b", "rate": 0.9}, {"pod": "a", "rate": 0.99}, {"pod": "c", "rate": 0.5}
    ]));
    let env = argo::environment(&data);
    let run_env = |src: &str| {
        let program = compile(src).map_err(|e| e.to_string())?;
        program.run(&env).map_err(|e| e.to_string())
    };
    assert_eq!(run_env("sortBy(result, .rate)[0].pod"), Ok(Value::from("c")));
    assert_eq!(run_env("sortBy(result, .pod, 'desc')[0].pod"), Ok(Value::from("c")));
    assert_eq!(
        run_env("map(sortBy(result, {#.rate}), .pod) == ['c', 'b', 'a']"),
        Ok(Value::Bool(true))
    );
    assert_eq!(run_env("len(groupBy(result, .rate > 0.8)['true'])"), Ok(Value::Int(2)));
    assert_eq!(run_env("groupBy(result, .pod).a[0].rate"), Ok(Value::Float(0.99)));
    assert!(run_env("sortBy(result, .pod, 'sideways')").is_err());
    assert!(run_env("sortBy([1, 'a'], #)").is_err());
}

#[test]
fn reduce_with_an_accumulator() {
    assert_eq!(ok("reduce([1, 2, 3], #acc + #)"), Value::Int(6));
    assert_eq!(ok("reduce([1, 2, 3], #acc + #, 10)"), Value::Int(16));
    assert_eq!(ok("reduce([0.5, 0.25], #acc * #, 1.0)"), Value::Float(0.125));
    assert_eq!(ok("reduce([], #acc + #)"), Value::Nil);
    assert_eq!(ok("reduce([3, 9, 4], # > #acc ? # : #acc)"), Value::Int(9));
    assert_eq!(ok("reduce(['a', 'b'], #acc + # + string(#index), '')"), Value::from("a0b1"));
    assert!(run("map([1], #acc)").is_err_and(|e| e == "unknown pointer #acc"));
    assert!(run("reduce([[1]], map(#, #acc))").is_err(), "#acc belongs to its reduce only");
}
