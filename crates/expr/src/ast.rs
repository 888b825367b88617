//! The syntax tree. Every node records its depth so that the parser can reject trees too deep
//! to check, evaluate or drop without risking the stack.

use std::sync::Arc;

use regex::Regex;

/// The deepest tree the parser accepts.
pub(crate) const MAX_DEPTH: u32 = 256;

/// Binary operators (`matches` is its own node because it caches a literal regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    StartsWith,
    EndsWith,
    Range,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Coalesce,
}

impl BinOp {
    pub(crate) fn from_token(op: &str) -> Option<(BinOp, u8, bool)> {
        // (operator, precedence, right-associative)
        Some(match op {
            "or" | "||" => (BinOp::Or, 10, false),
            "and" | "&&" => (BinOp::And, 15, false),
            "==" => (BinOp::Eq, 20, false),
            "!=" => (BinOp::Ne, 20, false),
            "<" => (BinOp::Lt, 20, false),
            "<=" => (BinOp::Le, 20, false),
            ">" => (BinOp::Gt, 20, false),
            ">=" => (BinOp::Ge, 20, false),
            "in" => (BinOp::In, 20, false),
            "contains" => (BinOp::Contains, 20, false),
            "startsWith" => (BinOp::StartsWith, 20, false),
            "endsWith" => (BinOp::EndsWith, 20, false),
            ".." => (BinOp::Range, 25, false),
            "+" => (BinOp::Add, 30, false),
            "-" => (BinOp::Sub, 30, false),
            "*" => (BinOp::Mul, 60, false),
            "/" => (BinOp::Div, 60, false),
            "%" => (BinOp::Mod, 60, false),
            "**" | "^" => (BinOp::Pow, 100, true),
            "??" => (BinOp::Coalesce, 200, false),
            _ => return None,
        })
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Contains => "contains",
            BinOp::StartsWith => "startsWith",
            BinOp::EndsWith => "endsWith",
            BinOp::Range => "..",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::Coalesce => "??",
        }
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Plus,
}

/// A node and its depth.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: Box<NodeKind>,
    pub(crate) depth: u32,
}

/// Map literal keys.
#[derive(Debug, Clone)]
pub(crate) enum MapKey {
    Lit(String),
    Expr(Node),
}

/// The node kinds.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    /// `#` (None), `#index` (Some("index")) — the closure's current element.
    Pointer(Option<String>),
    Unary(UnOp, Node),
    Binary(BinOp, Node, Node),
    /// `a matches b`; the regex is compiled once when `b` is a string literal.
    Matches(Node, Node, Option<Arc<Regex>>),
    Ternary(Node, Node, Node),
    /// `a.b`, `a?.b`, `a[b]`, `a?.[b]`.
    Member {
        obj: Node,
        prop: Node,
        optional: bool,
    },
    /// Encloses a member chain that contains `?.`: a nil short-circuits the whole chain to nil.
    Chain(Node),
    Slice {
        obj: Node,
        from: Option<Node>,
        to: Option<Node>,
    },
    /// A call of a built-in or an environment function.
    Call {
        name: String,
        args: Vec<Node>,
    },
    /// `obj.name(args)`.
    Method {
        obj: Node,
        name: String,
        args: Vec<Node>,
    },
    /// A predicate argument (`{ # > 0 }` or a bare expression in a predicate position).
    Closure(Node),
    Array(Vec<Node>),
    Map(Vec<(MapKey, Node)>),
    /// `let name = value; body`: `name` is `value` inside `body`.
    Let {
        name: String,
        value: Node,
        body: Node,
    },
}

impl Node {
    /// Builds a node; `None` when the tree would exceed [`MAX_DEPTH`].
    pub(crate) fn new(kind: NodeKind) -> Option<Node> {
        let mut child = 0;
        let mut see = |n: &Node| child = child.max(n.depth);
        match &kind {
            NodeKind::Nil
            | NodeKind::Bool(_)
            | NodeKind::Int(_)
            | NodeKind::Float(_)
            | NodeKind::Str(_)
            | NodeKind::Ident(_)
            | NodeKind::Pointer(_) => {}
            NodeKind::Unary(_, a) | NodeKind::Chain(a) | NodeKind::Closure(a) => see(a),
            NodeKind::Binary(_, a, b)
            | NodeKind::Matches(a, b, _)
            | NodeKind::Member { obj: a, prop: b, .. } => {
                see(a);
                see(b);
            }
            NodeKind::Ternary(a, b, c) => {
                see(a);
                see(b);
                see(c);
            }
            NodeKind::Let { value, body, .. } => {
                see(value);
                see(body);
            }
            NodeKind::Slice { obj, from, to } => {
                see(obj);
                from.iter().chain(to.iter()).for_each(&mut see);
            }
            NodeKind::Call { args, .. } | NodeKind::Array(args) => args.iter().for_each(&mut see),
            NodeKind::Method { obj, args, .. } => {
                see(obj);
                args.iter().for_each(&mut see);
            }
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    if let MapKey::Expr(k) = k {
                        see(k);
                    }
                    see(v);
                }
            }
        }
        let depth = child + 1;
        (depth <= MAX_DEPTH).then(|| Node { kind: Box::new(kind), depth })
    }
}
