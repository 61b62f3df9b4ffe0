//! Line and column numbers, computed only for matches.

/// A 1-based position in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineColumn {
    pub line: usize,
    /// 1-based byte column.
    pub column: usize,
    /// Offset of the first byte of the line.
    pub line_start: usize,
}

/// Turns increasing byte offsets into line/column, scanning each part of the buffer for newlines once.
#[derive(Debug)]
pub struct LineCounter<'a> {
    hay: &'a [u8],
    offset: usize,
    line: usize,
    line_start: usize,
}

impl<'a> LineCounter<'a> {
    pub fn new(hay: &'a [u8]) -> LineCounter<'a> {
        LineCounter {
            hay,
            offset: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The position of `offset`; offsets must not decrease between calls (a smaller one restarts the count).
    pub fn locate(&mut self, offset: usize) -> LineColumn {
        if offset < self.offset {
            *self = LineCounter::new(self.hay);
        }
        let offset = offset.min(self.hay.len());
        for nl in memchr::memchr_iter(b'\n', &self.hay[self.offset..offset]) {
            self.line += 1;
            self.line_start = self.offset + nl + 1;
        }
        self.offset = offset;
        LineColumn {
            line: self.line,
            column: offset - self.line_start + 1,
            line_start: self.line_start,
        }
    }
}

/// The end (exclusive) of the line that starts at `line_start`, without its `\r\n` or `\n`.
pub fn line_end(hay: &[u8], line_start: usize) -> usize {
    let end = memchr::memchr(b'\n', &hay[line_start..]).map_or(hay.len(), |i| line_start + i);
    if end > line_start && hay[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_offsets_across_lines() {
        let hay = b"ab\r\ncd\nef";
        let mut counter = LineCounter::new(hay);
        assert_eq!(
            counter.locate(1),
            LineColumn {
                line: 1,
                column: 2,
                line_start: 0
            }
        );
        assert_eq!(
            counter.locate(4),
            LineColumn {
                line: 2,
                column: 1,
                line_start: 4
            }
        );
        assert_eq!(
            counter.locate(8),
            LineColumn {
                line: 3,
                column: 2,
                line_start: 7
            }
        );
        assert_eq!(counter.locate(0).line, 1);
        assert_eq!(line_end(hay, 0), 2);
        assert_eq!(line_end(hay, 7), 9);
    }
}
