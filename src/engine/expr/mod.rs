//! The `Upstash-Retry-Delay` expression language. This module owns parsing
//! and evaluating the arithmetic expression a publisher may send to compute
//! the delay, in milliseconds, before each retry: numbers (`1000`, `1.5`),
//! the variable `retried` (retries already done, 0 when the first retry is
//! computed), `+ - * /`, unary `-`/`+`, parentheses and the functions
//! `pow`, `exp`, `sqrt`, `abs`, `floor`, `ceil`, `round`, `min` and `max`.
//! Names are case-insensitive and whitespace may appear anywhere between
//! tokens. Precedence, tightest first: unary `-`/`+`, then `*` `/`, then
//! `+` `-`; binary operators associate to the left.
//!
//! The parser is a hand-written recursive descent that compiles to a postfix
//! program, so evaluation, cloning and dropping never recurse. Input length
//! ([`MAX_EXPR_LEN`]) and nesting depth ([`MAX_DEPTH`]) are bounded, so no
//! input can exhaust the stack. Evaluation uses `f64` and never panics: a
//! NaN (`0/0`, `sqrt(-1)`), negative or `-inf` result is 0 ms, while `+inf`
//! (`1/0`, a huge `pow`) and anything above [`MAX_DELAY_MS`] clamps to
//! [`MAX_DELAY_MS`]. Fractional milliseconds are truncated.

use std::fmt;
use std::str::FromStr;

mod parse;

/// Longest accepted expression, in characters, after trimming.
pub(crate) const MAX_EXPR_LEN: usize = 1000;
/// Deepest accepted nesting of parentheses, function calls and unary signs.
pub(crate) const MAX_DEPTH: usize = 64;
/// Largest delay [`RetryDelayExpr::delay_ms`] returns: one year.
pub const MAX_DELAY_MS: u64 = 86_400_000 * 365;

/// Why an expression was rejected. Positions are 1-based character offsets
/// into the trimmed expression (the text [`RetryDelayExpr::as_str`] returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprError {
    /// Nothing but whitespace.
    Empty,
    /// Longer than [`MAX_EXPR_LEN`] characters.
    TooLong { len: usize, max: usize },
    /// Nested deeper than [`MAX_DEPTH`]; `pos` is where the limit was crossed.
    TooDeep { max: usize, pos: usize },
    /// A character that starts no token, such as `%`.
    UnexpectedChar { ch: char, pos: usize },
    /// A malformed number such as `1.2.3` or `1.`.
    InvalidNumber { text: String, pos: usize },
    /// A token where something else was `expected`.
    UnexpectedToken {
        found: String,
        expected: &'static str,
        pos: usize,
    },
    /// The expression stopped where something was still `expected`.
    UnexpectedEnd { expected: &'static str },
    /// A name followed by `(` that is not a known function.
    UnknownFunction { name: String, pos: usize },
    /// A name other than `retried` used as a value.
    UnknownVariable { name: String, pos: usize },
    /// A function name not followed by `(`.
    MissingCall { name: &'static str, pos: usize },
    /// A function called with the wrong number of arguments.
    WrongArity {
        name: &'static str,
        expected: usize,
        got: usize,
        pos: usize,
    },
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty expression"),
            Self::TooLong { len, max } => {
                write!(f, "expression too long: {len} characters (at most {max})")
            }
            Self::TooDeep { max, pos } => write!(
                f,
                "expression nested too deeply (more than {max} levels) at position {pos}"
            ),
            Self::UnexpectedChar { ch, pos } => {
                write!(f, "unexpected character '{ch}' at position {pos}")
            }
            Self::InvalidNumber { text, pos } => {
                write!(f, "invalid number '{text}' at position {pos}")
            }
            Self::UnexpectedToken {
                found,
                expected,
                pos,
            } => {
                write!(
                    f,
                    "unexpected '{found}' at position {pos}, expected {expected}"
                )
            }
            Self::UnexpectedEnd { expected } => {
                write!(f, "unexpected end of expression, expected {expected}")
            }
            Self::UnknownFunction { name, pos } => {
                write!(f, "unknown function '{name}' at position {pos}")
            }
            Self::UnknownVariable { name, pos } => write!(
                f,
                "unknown variable '{name}' at position {pos} (only 'retried' is defined)"
            ),
            Self::MissingCall { name, pos } => {
                write!(
                    f,
                    "function '{name}' at position {pos} must be followed by '('"
                )
            }
            Self::WrongArity {
                name,
                expected,
                got,
                pos,
            } => write!(
                f,
                "wrong number of arguments for {name}: expected {expected}, got {got} \
                 at position {pos}"
            ),
        }
    }
}

impl std::error::Error for ExprError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Pow,
    Exp,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,
    Min,
    Max,
}

impl Func {
    const ALL: [Func; 9] = [
        Func::Pow,
        Func::Exp,
        Func::Sqrt,
        Func::Abs,
        Func::Floor,
        Func::Ceil,
        Func::Round,
        Func::Min,
        Func::Max,
    ];

    fn name(self) -> &'static str {
        match self {
            Func::Pow => "pow",
            Func::Exp => "exp",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Round => "round",
            Func::Min => "min",
            Func::Max => "max",
        }
    }

    fn arity(self) -> usize {
        match self {
            Func::Pow | Func::Min | Func::Max => 2,
            _ => 1,
        }
    }

    fn lookup(name: &str) -> Option<Func> {
        Func::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// One instruction of the compiled postfix program.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Num(f64),
    Retried,
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    Call(Func),
}

/// A parsed `Upstash-Retry-Delay` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryDelayExpr {
    source: String,
    program: Vec<Op>,
}

impl RetryDelayExpr {
    /// Parses `src` (surrounding whitespace ignored).
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        let source = src.trim();
        if source.is_empty() {
            return Err(ExprError::Empty);
        }
        let len = source.chars().count();
        if len > MAX_EXPR_LEN {
            return Err(ExprError::TooLong {
                len,
                max: MAX_EXPR_LEN,
            });
        }
        let chars: Vec<char> = source.chars().collect();
        let program = parse::compile(&chars)?;
        Ok(Self {
            source: source.to_owned(),
            program,
        })
    }

    /// The trimmed source text, for echoing back in API responses.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The delay in milliseconds after `retried` retries, clamped to
    /// `0..=MAX_DELAY_MS` (NaN and negative results give 0).
    pub fn delay_ms(&self, retried: u32) -> u64 {
        let v = self.eval(f64::from(retried));
        if v.is_nan() || v <= 0.0 {
            0
        } else if v >= MAX_DELAY_MS as f64 {
            MAX_DELAY_MS
        } else {
            v as u64
        }
    }

    /// The raw `f64` value of the expression.
    fn eval(&self, retried: f64) -> f64 {
        let mut stack: Vec<f64> = Vec::with_capacity(8);
        for op in &self.program {
            let value = match *op {
                Op::Num(v) => v,
                Op::Retried => retried,
                Op::Neg => match stack.pop() {
                    Some(a) => -a,
                    None => return f64::NAN,
                },
                Op::Call(func) if func.arity() == 1 => match stack.pop() {
                    Some(a) => apply1(func, a),
                    None => return f64::NAN,
                },
                _ => {
                    let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                        return f64::NAN;
                    };
                    match *op {
                        Op::Add => a + b,
                        Op::Sub => a - b,
                        Op::Mul => a * b,
                        Op::Div => a / b,
                        Op::Call(Func::Pow) => a.powf(b),
                        Op::Call(Func::Min) => a.min(b),
                        Op::Call(Func::Max) => a.max(b),
                        _ => return f64::NAN,
                    }
                }
            };
            stack.push(value);
        }
        match (stack.pop(), stack.is_empty()) {
            (Some(v), true) => v,
            _ => f64::NAN,
        }
    }
}

fn apply1(func: Func, a: f64) -> f64 {
    match func {
        Func::Exp => a.exp(),
        Func::Sqrt => a.sqrt(),
        Func::Abs => a.abs(),
        Func::Floor => a.floor(),
        Func::Ceil => a.ceil(),
        Func::Round => a.round(),
        Func::Pow | Func::Min | Func::Max => f64::NAN,
    }
}

/// Kept as its source text (`-persist`), parsed again when read.
impl serde::Serialize for RetryDelayExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for RetryDelayExpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = String::deserialize(d)?;
        Self::parse(&source).map_err(serde::de::Error::custom)
    }
}

impl FromStr for RetryDelayExpr {
    type Err = ExprError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RetryDelayExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests;
