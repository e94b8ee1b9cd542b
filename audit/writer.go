package audit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Buffer is how many events wait at most (default 4096).
	Buffer int
	// BatchSize is the most events appended in one transaction (default 256).
	BatchSize int
	// FlushInterval is the longest an event waits in a partial batch
	// (default 200ms).
	FlushInterval time.Duration
	// MaxWait is how long Record blocks on a full buffer before dropping
	// the event (default 50ms; negative: never block).
	MaxWait time.Duration
	Logger  *slog.Logger
}

// Writer is the bounded asynchronous batch writer of the events that
// record no change (reads, refused requests, the responses of changes).
//
// Loss window: the events in its buffer (at most Buffer, waiting at most
// FlushInterval plus one append) are lost if the process dies. Changes are
// never at risk: their events are appended in their own transaction (see
// Store.Append).
//
// Back-pressure: when the database falls behind and the buffer is full,
// Record blocks up to MaxWait, then drops the event and counts it
// (Dropped). A failed append is retried twice, then its batch is dropped and
// counted. Requests are never failed by their audit event.
type Writer struct {
	store   *Store
	cfg     WriterConfig
	ch      chan *Event
	flushes chan chan struct{}
	done    chan struct{}
	stop    sync.Once
	closeMu sync.RWMutex // Record holds it to read closing and send
	closing bool
	dropped atomic.Int64
	written atomic.Int64
}

// NewWriter starts a writer appending to s.
func NewWriter(s *Store, cfg WriterConfig) *Writer {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{store: s, cfg: cfg, ch: make(chan *Event, cfg.Buffer), done: make(chan struct{}), flushes: make(chan chan struct{})}
	go w.run()
	return w
}

// Record queues e for appending (see Writer for the back-pressure).
func (w *Writer) Record(e *Event) {
	w.closeMu.RLock()
	defer w.closeMu.RUnlock()
	if w.closing {
		w.dropped.Add(1)
		return
	}
	select {
	case w.ch <- e:
		return
	default:
	}
	if w.cfg.MaxWait < 0 {
		w.dropped.Add(1)
		return
	}
	t := time.NewTimer(w.cfg.MaxWait)
	defer t.Stop()
	select {
	case w.ch <- e:
	case <-t.C:
		w.dropped.Add(1)
	}
}

// Dropped returns how many events were dropped (full buffer, failed
// appends, records after Close).
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Written returns how many events were appended.
func (w *Writer) Written() int64 { return w.written.Load() }

// Pending returns how many events wait in the buffer.
func (w *Writer) Pending() int { return len(w.ch) }

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.cfg.FlushInterval)
	defer t.Stop()
	batch := make([]*Event, 0, w.cfg.BatchSize)
	for {
		select {
		case e, ok := <-w.ch:
			if !ok {
				w.flush(batch)
				return
			}
			batch = append(batch, e)
			if len(batch) >= w.cfg.BatchSize {
				w.flush(batch)
				batch = batch[:0]
			}
		case ack := <-w.flushes:
			for drained := false; !drained; {
				select {
				case e, ok := <-w.ch:
					if !ok {
						drained = true
						break
					}
					batch = append(batch, e)
					if len(batch) >= w.cfg.BatchSize {
						w.flush(batch)
						batch = batch[:0]
					}
				default:
					drained = true
				}
			}
			w.flush(batch)
			batch = batch[:0]
			close(ack)
		case <-t.C:
			// drain what is queued without waiting, then flush
			for len(batch) < w.cfg.BatchSize {
				select {
				case e, ok := <-w.ch:
					if !ok {
						w.flush(batch)
						return
					}
					batch = append(batch, e)
					continue
				default:
				}
				break
			}
			w.flush(batch)
			batch = batch[:0]
		}
	}
}

func (w *Writer) flush(batch []*Event) {
	if len(batch) == 0 {
		return
	}
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = w.store.Append(ctx, w.store.db, batch...)
		cancel()
		if err == nil {
			w.written.Add(int64(len(batch)))
			return
		}
	}
	w.dropped.Add(int64(len(batch)))
	w.cfg.Logger.Error("audit events dropped", slog.Int("events", len(batch)), slog.String("error", err.Error()))
}

// Flush appends the events recorded before the call, waiting until ctx
// ends at most (tests, and operators' commands).
func (w *Writer) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case w.flushes <- ack:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events and appends those queued, waiting until ctx
// ends at most.
func (w *Writer) Close(ctx context.Context) error {
	w.stop.Do(func() {
		w.closeMu.Lock()
		w.closing = true
		close(w.ch)
		w.closeMu.Unlock()
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
