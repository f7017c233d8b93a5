use std::collections::VecDeque;
use std::fmt;

pub struct Stack<T> {
    items: VecDeque<T>,
    limit: usize,
}

#[derive(Debug)]
pub enum StackError {
    Full,
    Empty,
}

impl<T> Stack<T> {
    pub fn new(limit: usize) -> Self {
        Stack { items: VecDeque::new(), limit }
    }

    pub fn push(&mut self, item: T) -> Result<(), StackError> {
        if self.items.len() >= self.limit {
            return Err(StackError::Full);
        }
        self.items.push_back(item);
        Ok(())
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:?}", self)
    }
}
