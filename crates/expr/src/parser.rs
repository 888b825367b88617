//! A Pratt parser with expr's precedences and rules: comparison chaining (`1 < x < 3`),
//! `not in` / `not matches`, `??` that cannot be mixed with other operators, ternaries, pipes,
//! and predicate arguments (`{ # > 0 }` or a bare expression), inside which `#`, `#index` and
//! the `.field` shorthand for `#.field` are allowed.

use std::sync::Arc;

use regex::Regex;

use crate::ast::{BinOp, MapKey, Node, NodeKind, UnOp};
use crate::lexer::{Kind, Token, lex};

/// Built-ins whose second argument is a predicate; `true` when the predicate is optional.
pub(crate) fn predicate(name: &str) -> Option<bool> {
    match name {
        "all" | "none" | "any" | "one" | "filter" | "map" | "find" | "findIndex" | "findLast"
        | "findLastIndex" | "sortBy" | "groupBy" | "reduce" => Some(false),
        "count" | "sum" => Some(true),
        _ => None,
    }
}

/// Parses a whole expression.
pub(crate) fn parse(src: &str) -> Result<Node, String> {
    let tokens = lex(src)?;
    let mut p = Parser { tokens, pos: 0, closures: 0, nesting: 0 };
    let node = p.expression(0)?;
    if p.cur().kind != Kind::Eof {
        return Err(p.unexpected());
    }
    Ok(node)
}

const MAX_NESTING: u32 = 200;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    closures: u32,
    nesting: u32,
}

fn node(kind: NodeKind) -> Result<Node, String> {
    Node::new(kind).ok_or_else(|| "expression is too deeply nested".to_owned())
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "<" | ">" | "<=" | ">=")
}

impl Parser {
    fn cur(&self) -> &Token {
        // The token list always ends with EOF and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Token {
        &self.tokens[(self.pos + 1).min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn unexpected(&self) -> String {
        format!("unexpected token {}", self.cur())
    }

    fn expect(&mut self, kind: Kind, value: &str) -> Result<(), String> {
        if self.cur().is(kind, value) {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expression(&mut self, precedence: u8) -> Result<Node, String> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err("expression is too deeply nested".into());
        }
        let result = self.expression_inner(precedence);
        self.nesting -= 1;
        result
    }

    fn expression_inner(&mut self, precedence: u8) -> Result<Node, String> {
        if precedence == 0 && self.cur().is(Kind::Identifier, "let") {
            return self.let_binding();
        }
        let mut left = self.primary()?;
        let mut prev: Option<String> = None;
        loop {
            let tok = self.cur().clone();
            if tok.kind != Kind::Operator {
                break;
            }
            let mut op_tok = tok.clone();
            let mut negate = false;
            if tok.value == "not" {
                let next = self.peek().clone();
                let negatable = next.kind == Kind::Operator
                    && matches!(
                        next.value.as_str(),
                        "in" | "matches" | "contains" | "startsWith" | "endsWith"
                    );
                if !negatable {
                    self.advance();
                    return Err(self.unexpected());
                }
                if 20 < precedence {
                    break;
                }
                self.advance();
                op_tok = next;
                negate = true;
            }
            if op_tok.value == "|" {
                if precedence > 0 {
                    break;
                }
                self.advance();
                let name = self.cur().clone();
                if name.kind != Kind::Identifier {
                    return Err(self.unexpected());
                }
                self.advance();
                if !self.cur().is(Kind::Bracket, "(") {
                    return Err(self.unexpected());
                }
                left = self.call(name.value, vec![left])?;
                prev = Some(op_tok.value);
                continue;
            }
            let (op, prec, right_assoc) = if op_tok.value == "matches" {
                (None, 20, false)
            } else {
                match BinOp::from_token(&op_tok.value) {
                    Some((op, p, r)) => (Some(op), p, r),
                    None => break,
                }
            };
            if prec < precedence {
                break;
            }
            self.advance();
            if prev.as_deref() == Some("??") && op != Some(BinOp::Coalesce) {
                return Err(format!(
                    "Operator ({}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.",
                    op_tok.value
                ));
            }
            if is_comparison(&op_tok.value) {
                left = self.comparison(left, op_tok.value.clone(), prec)?;
                prev = Some(op_tok.value);
                continue;
            }
            let right = self.expression(if right_assoc { prec } else { prec + 1 })?;
            left = match op {
                Some(op) => node(NodeKind::Binary(op, left, right))?,
                None => {
                    let re = match &*right.kind {
                        NodeKind::Str(pattern) => {
                            Some(Arc::new(Regex::new(pattern).map_err(|e| e.to_string())?))
                        }
                        _ => None,
                    };
                    node(NodeKind::Matches(left, right, re))?
                }
            };
            if negate {
                left = node(NodeKind::Unary(UnOp::Not, left))?;
            }
            prev = Some(op_tok.value);
        }
        if precedence == 0 {
            left = self.conditional(left)?;
        }
        Ok(left)
    }

    /// `a < b <= c` becomes `a < b && b <= c`.
    fn comparison(&mut self, mut left: Node, mut op: String, prec: u8) -> Result<Node, String> {
        let mut root: Option<Node> = None;
        loop {
            let right = self.expression(prec + 1)?;
            let bin = BinOp::from_token(&op).map(|b| b.0).ok_or_else(|| self.unexpected())?;
            let cmp = node(NodeKind::Binary(bin, left, right.clone()))?;
            root = Some(match root {
                None => cmp,
                Some(r) => node(NodeKind::Binary(BinOp::And, r, cmp))?,
            });
            left = right;
            let tok = self.cur();
            if !(tok.kind == Kind::Operator && is_comparison(&tok.value)) {
                break;
            }
            op = tok.value.clone();
            self.advance();
        }
        root.ok_or_else(|| self.unexpected())
    }

    fn conditional(&mut self, mut cond: Node) -> Result<Node, String> {
        while self.cur().is(Kind::Operator, "?") {
            self.advance();
            let (yes, no) = if self.cur().is(Kind::Operator, ":") {
                self.advance();
                (cond.clone(), self.expression(0)?)
            } else {
                let yes = self.expression(0)?;
                self.expect(Kind::Operator, ":")?;
                (yes, self.expression(0)?)
            };
            cond = node(NodeKind::Ternary(cond, yes, no))?;
        }
        Ok(cond)
    }

    fn primary(&mut self) -> Result<Node, String> {
        let tok = self.cur().clone();
        if tok.kind == Kind::Operator {
            let unary = match tok.value.as_str() {
                "not" | "!" => Some((UnOp::Not, 50)),
                "-" => Some((UnOp::Neg, 90)),
                "+" => Some((UnOp::Plus, 90)),
                _ => None,
            };
            if let Some((op, prec)) = unary {
                self.advance();
                let operand = self.expression(prec)?;
                let n = node(NodeKind::Unary(op, operand))?;
                return self.postfix(n);
            }
            if self.closures > 0 && tok.value == "#" {
                self.advance();
                let mut name = None;
                if self.cur().kind == Kind::Identifier {
                    name = Some(self.cur().value.clone());
                    self.advance();
                }
                let n = node(NodeKind::Pointer(name))?;
                return self.postfix(n);
            }
            if self.closures > 0 && tok.value == "." {
                // `.field` inside a predicate is `#.field`: the postfix loop reads the `.`.
                let n = node(NodeKind::Pointer(None))?;
                return self.postfix(n);
            }
        }
        if tok.is(Kind::Bracket, "(") {
            self.advance();
            let inner = self.expression(0)?;
            self.expect(Kind::Bracket, ")")?;
            return self.postfix(inner);
        }
        self.secondary()
    }

    /// `let name = value; body` (expr's variable declaration).
    fn let_binding(&mut self) -> Result<Node, String> {
        self.advance();
        let name = self.cur().clone();
        if name.kind != Kind::Identifier || matches!(name.value.as_str(), "true" | "false" | "nil")
        {
            return Err(self.unexpected());
        }
        self.advance();
        self.expect(Kind::Operator, "=")?;
        let value = self.expression(0)?;
        self.expect(Kind::Operator, ";")?;
        let body = self.expression(0)?;
        node(NodeKind::Let { name: name.value, value, body })
    }

    fn secondary(&mut self) -> Result<Node, String> {
        let tok = self.cur().clone();
        let n = match tok.kind {
            Kind::Identifier => {
                self.advance();
                match tok.value.as_str() {
                    "true" => node(NodeKind::Bool(true))?,
                    "false" => node(NodeKind::Bool(false))?,
                    "nil" => node(NodeKind::Nil)?,
                    _ if self.cur().is(Kind::Bracket, "(") => self.call(tok.value, Vec::new())?,
                    _ => node(NodeKind::Ident(tok.value))?,
                }
            }
            Kind::Number => {
                self.advance();
                node(number(&tok.value)?)?
            }
            Kind::Str => {
                self.advance();
                node(NodeKind::Str(tok.value))?
            }
            Kind::Bracket if tok.value == "[" => {
                self.advance();
                let items = self.list("]")?;
                node(NodeKind::Array(items))?
            }
            Kind::Bracket if tok.value == "{" => {
                self.advance();
                self.map_literal()?
            }
            _ => return Err(self.unexpected()),
        };
        self.postfix(n)
    }

    /// Comma-separated expressions up to `close` (a trailing comma is allowed).
    fn list(&mut self, close: &str) -> Result<Vec<Node>, String> {
        let mut items = Vec::new();
        while !self.cur().is(Kind::Bracket, close) {
            if !items.is_empty() {
                self.expect(Kind::Operator, ",")?;
                if self.cur().is(Kind::Bracket, close) {
                    break;
                }
            }
            items.push(self.expression(0)?);
        }
        self.expect(Kind::Bracket, close)?;
        Ok(items)
    }

    fn map_literal(&mut self) -> Result<Node, String> {
        let mut entries = Vec::new();
        while !self.cur().is(Kind::Bracket, "}") {
            if !entries.is_empty() {
                self.expect(Kind::Operator, ",")?;
                if self.cur().is(Kind::Bracket, "}") {
                    break;
                }
            }
            let tok = self.cur().clone();
            let key = match tok.kind {
                Kind::Number | Kind::Str | Kind::Identifier => {
                    self.advance();
                    MapKey::Lit(tok.value)
                }
                Kind::Bracket if tok.value == "(" => MapKey::Expr(self.expression(0)?),
                _ => {
                    return Err(format!(
                        "a map key must be a quoted string, a number, a identifier, or an expression enclosed in parentheses (unexpected token {tok})"
                    ));
                }
            };
            self.expect(Kind::Operator, ":")?;
            entries.push((key, self.expression(0)?));
        }
        self.expect(Kind::Bracket, "}")?;
        node(NodeKind::Map(entries))
    }

    /// A call; the current token is `(`. `args` holds a piped-in first argument.
    fn call(&mut self, name: String, mut args: Vec<Node>) -> Result<Node, String> {
        self.expect(Kind::Bracket, "(")?;
        if let Some(optional) = predicate(&name) {
            if args.is_empty() {
                args.push(self.expression(0)?);
                if !optional || self.cur().is(Kind::Operator, ",") {
                    self.expect(Kind::Operator, ",")?;
                }
            }
            if !optional || !self.cur().is(Kind::Bracket, ")") {
                args.push(self.closure()?);
            }
            // `sortBy(items, key, "desc")`: the order follows the predicate;
            // `reduce(items, #acc + #, initial)`: likewise the initial value.
            if matches!(name.as_str(), "sortBy" | "reduce") && self.cur().is(Kind::Operator, ",") {
                self.advance();
                args.push(self.expression(0)?);
            }
            self.expect(Kind::Bracket, ")")?;
        } else {
            let rest = self.list(")")?;
            args.extend(rest);
        }
        node(NodeKind::Call { name, args })
    }

    fn closure(&mut self) -> Result<Node, String> {
        let braced = self.cur().is(Kind::Bracket, "{");
        if braced {
            self.advance();
        }
        self.closures += 1;
        let body = self.expression(0);
        self.closures -= 1;
        let body = body?;
        if braced {
            self.expect(Kind::Bracket, "}")?;
        }
        node(NodeKind::Closure(body))
    }

    fn postfix(&mut self, mut n: Node) -> Result<Node, String> {
        let mut chained = false;
        loop {
            let tok = self.cur().clone();
            if tok.kind == Kind::Operator && (tok.value == "." || tok.value == "?.") {
                let optional = tok.value == "?.";
                chained |= optional;
                self.advance();
                if optional && self.cur().is(Kind::Bracket, "[") {
                    self.advance();
                    let index = self.expression(0)?;
                    self.expect(Kind::Bracket, "]")?;
                    n = node(NodeKind::Member { obj: n, prop: index, optional })?;
                    continue;
                }
                let prop = self.cur().clone();
                let valid = match prop.kind {
                    Kind::Identifier => true,
                    Kind::Operator => prop.value.chars().all(char::is_alphanumeric),
                    _ => false,
                };
                if !valid {
                    return Err("expected name".into());
                }
                self.advance();
                if self.cur().is(Kind::Bracket, "(") {
                    self.advance();
                    let args = self.list(")")?;
                    n = node(NodeKind::Method { obj: n, name: prop.value, args })?;
                } else {
                    let key = node(NodeKind::Str(prop.value))?;
                    n = node(NodeKind::Member { obj: n, prop: key, optional })?;
                }
            } else if tok.is(Kind::Bracket, "[") {
                self.advance();
                let from = if self.cur().is(Kind::Operator, ":") {
                    None
                } else {
                    Some(self.expression(0)?)
                };
                if self.cur().is(Kind::Operator, ":") {
                    self.advance();
                    let to = if self.cur().is(Kind::Bracket, "]") {
                        None
                    } else {
                        Some(self.expression(0)?)
                    };
                    self.expect(Kind::Bracket, "]")?;
                    n = node(NodeKind::Slice { obj: n, from, to })?;
                } else {
                    self.expect(Kind::Bracket, "]")?;
                    let index = from.ok_or_else(|| self.unexpected())?;
                    n = node(NodeKind::Member { obj: n, prop: index, optional: false })?;
                }
            } else {
                break;
            }
        }
        if chained { node(NodeKind::Chain(n)) } else { Ok(n) }
    }
}

fn number(raw: &str) -> Result<NodeKind, String> {
    let value = raw.replace('_', "");
    let lower = value.to_ascii_lowercase();
    let int = |digits: &str, radix: u32, what: &str| {
        i64::from_str_radix(digits, radix).map(NodeKind::Int).map_err(|_| {
            format!("invalid {what} literal: strconv.ParseInt: parsing \"{value}\": invalid syntax")
        })
    };
    if let Some(hex) = lower.strip_prefix("0x") {
        return int(hex, 16, "hex");
    }
    if let Some(bin) = lower.strip_prefix("0b") {
        return int(bin, 2, "binary");
    }
    if let Some(oct) = lower.strip_prefix("0o") {
        return int(oct, 8, "octal");
    }
    if lower.contains(['.', 'e']) {
        return value.parse::<f64>().map(NodeKind::Float).map_err(|_| {
            format!(
                "invalid float literal: strconv.ParseFloat: parsing \"{value}\": invalid syntax"
            )
        });
    }
    value.parse::<i64>().map(NodeKind::Int).map_err(|_| {
        format!(
            "invalid integer literal: strconv.ParseInt: parsing \"{value}\": value out of range"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact S-expression rendering for assertions.
    fn show(n: &Node) -> String {
        match &*n.kind {
            NodeKind::Nil => "nil".into(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => format!("{f:?}"),
            NodeKind::Str(s) => format!("{s:?}"),
            NodeKind::Ident(s) => s.clone(),
            NodeKind::Pointer(None) => "#".into(),
            NodeKind::Pointer(Some(p)) => format!("#{p}"),
            NodeKind::Unary(op, a) => format!("({op:?} {})", show(a)),
            NodeKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), show(a), show(b)),
            NodeKind::Matches(a, b, _) => format!("(matches {} {})", show(a), show(b)),
            NodeKind::Ternary(a, b, c) => format!("(? {} {} {})", show(a), show(b), show(c)),
            NodeKind::Member { obj, prop, optional } => {
                format!("({} {} {})", if *optional { "?." } else { "." }, show(obj), show(prop))
            }
            NodeKind::Chain(a) => format!("(chain {})", show(a)),
            NodeKind::Slice { obj, from, to } => format!(
                "(slice {} {} {})",
                show(obj),
                from.as_ref().map_or("_".into(), show),
                to.as_ref().map_or("_".into(), show)
            ),
            NodeKind::Call { name, args } | NodeKind::Method { name, args, .. } => {
                let args: Vec<String> = args.iter().map(show).collect();
                format!("({name} {})", args.join(" "))
            }
            NodeKind::Closure(a) => format!("{{{}}}", show(a)),
            NodeKind::Array(items) => {
                format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
            }
            NodeKind::Map(entries) => format!("{{map {}}}", entries.len()),
            NodeKind::Let { name, value, body } => {
                format!("(let {name} {} {})", show(value), show(body))
            }
        }
    }

    fn p(src: &str) -> String {
        show(&parse(src).unwrap_or_else(|e| panic!("{src}: {e}")))
    }

    #[test]
    fn precedence() {
        assert_eq!(p("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(p("a or b and c"), "(or a (and b c))");
        assert_eq!(p("not a == b"), "(== (Not a) b)"); // expr: `not` binds tighter than `==`
        assert_eq!(p("-2 ** 2"), "(Neg (** 2 2))");
        assert_eq!(p("2 ** 3 ** 2"), "(** 2 (** 3 2))");
        assert_eq!(p("1 < x < 3"), "(and (< 1 x) (< x 3))");
        assert_eq!(p("a ?? b ?? c"), "(?? (?? a b) c)");
        assert_eq!(p("x in 1..3"), "(in x (.. 1 3))");
        assert_eq!(p("a not in b"), "(Not (in a b))");
        assert_eq!(p("a ? b : c ? d : e"), "(? a b (? c d e))");
        assert_eq!(p("a == 1 || b"), "(or (== a 1) b)");
        assert_eq!(p("10 - 2 - 3"), "(- (- 10 2) 3)");
        assert_eq!(p("x | len()"), "(len x)");
    }

    #[test]
    fn members_and_closures() {
        assert_eq!(p("a.b[0].c"), "(. (. (. a \"b\") 0) \"c\")");
        assert_eq!(p("a?.b.c"), "(chain (. (?. a \"b\") \"c\"))");
        assert_eq!(p("a[1:2]"), "(slice a 1 2)");
        assert_eq!(p("a[:-1]"), "(slice a _ (Neg 1))");
        assert_eq!(
            p("all(result.values, {asFloat(.value) >= 9900})"),
            "(all (. result \"values\") {(>= (asFloat (. # \"value\")) 9900)})"
        );
        assert_eq!(p("all(result, # > 10)"), "(all result {(> # 10)})");
        assert_eq!(p("map(xs, #index)"), "(map xs {#index})");
        assert_eq!(p("count(xs)"), "(count xs)");
        assert_eq!(p("xs | filter(# > 1)"), "(filter xs {(> # 1)})");
        // A string containing a dot is just a string.
        assert_eq!(p(r#"result["a.b"] == "a.b""#), r#"(== (. result "a.b") "a.b")"#);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse("result[0] 10.000000").unwrap_err(),
            r#"unexpected token Number("10.000000")"#
        );
        assert!(parse(".value").is_err()); // outside a predicate
        assert!(parse("#").is_err());
        assert!(parse("now() -- ?").is_err());
        assert!(parse("a ?? b || c").is_err());
        assert!(parse("(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1").is_err());
        let long = vec!["1"; 5000].join("+");
        assert!(parse(&long).is_err());
        assert!(parse("1 +").is_err());
        assert!(parse("\"abc").is_err());
        assert!(parse("a matches '('").is_err());
    }
}
