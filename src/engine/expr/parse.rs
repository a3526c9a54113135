//! Lexer and recursive-descent parser for retry-delay expressions. This
//! module owns turning the characters of an expression into the postfix
//! [`Op`] program that [`RetryDelayExpr`](super::RetryDelayExpr) evaluates,
//! enforcing [`MAX_DEPTH`] along the way.

use super::{ExprError, Func, Op, MAX_DEPTH};

const OPERAND: &str = "a number, 'retried', a function call or '('";

/// Lexes and parses a whole (trimmed, length-checked) expression.
pub(super) fn compile(chars: &[char]) -> Result<Vec<Op>, ExprError> {
    let tokens = lex(chars)?;
    let mut parser = Parser {
        tokens: &tokens,
        next: 0,
        depth: 0,
        program: Vec::new(),
    };
    parser.expr()?;
    if let Some(tok) = tokens.get(parser.next) {
        return Err(tok.unexpected("an operator or the end of the expression"));
    }
    Ok(parser.program)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    Comma,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    text: String,
    /// 1-based character position.
    pos: usize,
}

impl Token {
    fn unexpected(&self, expected: &'static str) -> ExprError {
        ExprError::UnexpectedToken {
            found: self.text.clone(),
            expected,
            pos: self.pos,
        }
    }
}

fn lex(chars: &[char]) -> Result<Vec<Token>, ExprError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let tok = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c.is_ascii_digit() || c == '.' {
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let well_formed = text.matches('.').count() <= 1
                && !text.ends_with('.')
                && text.chars().any(|c| c.is_ascii_digit());
            match text.parse::<f64>() {
                Ok(v) if well_formed => Tok::Num(v),
                _ => {
                    return Err(ExprError::InvalidNumber {
                        text,
                        pos: start + 1,
                    })
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else {
            i += 1;
            match c {
                '+' => Tok::Plus,
                '-' => Tok::Minus,
                '*' => Tok::Star,
                '/' => Tok::Slash,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                ',' => Tok::Comma,
                _ => {
                    return Err(ExprError::UnexpectedChar {
                        ch: c,
                        pos: start + 1,
                    })
                }
            }
        };
        let text = chars[start..i].iter().collect();
        tokens.push(Token {
            tok,
            text,
            pos: start + 1,
        });
    }
    Ok(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    next: usize,
    depth: usize,
    program: Vec<Op>,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.next).map(|t| &t.tok)
    }

    fn bump(&mut self) -> Option<&'t Token> {
        let tok = self.tokens.get(self.next);
        self.next += 1;
        tok
    }

    fn enter(&mut self, pos: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::TooDeep {
                max: MAX_DEPTH,
                pos,
            });
        }
        Ok(())
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.next).map_or(0, |t| t.pos)
    }

    /// expr := term (('+' | '-') term)*
    fn expr(&mut self) -> Result<(), ExprError> {
        self.term()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => Op::Add,
                Some(Tok::Minus) => Op::Sub,
                _ => return Ok(()),
            };
            self.next += 1;
            self.term()?;
            self.program.push(op);
        }
    }

    /// term := unary (('*' | '/') unary)*
    fn term(&mut self) -> Result<(), ExprError> {
        self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => Op::Mul,
                Some(Tok::Slash) => Op::Div,
                _ => return Ok(()),
            };
            self.next += 1;
            self.unary()?;
            self.program.push(op);
        }
    }

    /// unary := ('-' | '+') unary | primary
    fn unary(&mut self) -> Result<(), ExprError> {
        let negate = match self.peek() {
            Some(Tok::Minus) => true,
            Some(Tok::Plus) => false,
            _ => return self.primary(),
        };
        self.enter(self.pos())?;
        self.next += 1;
        self.unary()?;
        if negate {
            self.program.push(Op::Neg);
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    /// primary := number | 'retried' | func '(' args ')' | '(' expr ')'
    fn primary(&mut self) -> Result<(), ExprError> {
        let Some(token) = self.bump() else {
            return Err(ExprError::UnexpectedEnd { expected: OPERAND });
        };
        let pos = token.pos;
        match &token.tok {
            Tok::Num(v) => self.program.push(Op::Num(*v)),
            Tok::Ident(name) if name.eq_ignore_ascii_case("retried") => {
                self.program.push(Op::Retried);
            }
            Tok::Ident(name) => {
                let name = name.clone();
                self.call(name, pos)?;
            }
            Tok::LParen => {
                self.enter(pos)?;
                self.expr()?;
                self.expect_close("')' or an operator")?;
                self.depth = self.depth.saturating_sub(1);
            }
            _ => return Err(token.unexpected(OPERAND)),
        }
        Ok(())
    }

    fn call(&mut self, name: String, pos: usize) -> Result<(), ExprError> {
        let is_call = self.peek() == Some(&Tok::LParen);
        let Some(func) = Func::lookup(&name) else {
            return Err(if is_call {
                ExprError::UnknownFunction { name, pos }
            } else {
                ExprError::UnknownVariable { name, pos }
            });
        };
        if !is_call {
            return Err(ExprError::MissingCall {
                name: func.name(),
                pos,
            });
        }
        self.next += 1;
        self.enter(pos)?;
        let mut got = 0;
        if self.peek() == Some(&Tok::RParen) {
            self.next += 1;
        } else {
            loop {
                self.expr()?;
                got += 1;
                if self.peek() == Some(&Tok::Comma) {
                    self.next += 1;
                } else {
                    self.expect_close("',', ')' or an operator")?;
                    break;
                }
            }
        }
        if got != func.arity() {
            return Err(ExprError::WrongArity {
                name: func.name(),
                expected: func.arity(),
                got,
                pos,
            });
        }
        self.program.push(Op::Call(func));
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    fn expect_close(&mut self, expected: &'static str) -> Result<(), ExprError> {
        match self.bump() {
            Some(Token {
                tok: Tok::RParen, ..
            }) => Ok(()),
            Some(token) => Err(token.unexpected(expected)),
            None => Err(ExprError::UnexpectedEnd { expected: "')'" }),
        }
    }
}
