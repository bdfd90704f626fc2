package meta

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

const jobColumns = "id, workspace, file_id, version, kind, payload, attempts, run_at, " +
	"lease_owner, lease_until, last_error, created_at, updated_at"

// maxClaim caps JobClaim.Limit.
const maxClaim = 100

func jobArgs(j *driver.JobRecord) []any {
	return []any{j.ID, j.Workspace, j.FileID, j.Version, string(j.Kind), string(j.Payload), j.Attempts, micros(j.RunAt),
		j.LeaseOwner, micros(j.LeaseUntil), j.LastError, micros(j.CreatedAt), micros(j.UpdatedAt)}
}

func scanJob(sc scanner) (*driver.JobRecord, error) {
	var (
		j                                   driver.JobRecord
		kind, payload                       string
		runAt, leaseUntil, created, updated int64
	)
	err := sc.Scan(&j.ID, &j.Workspace, &j.FileID, &j.Version, &kind, &payload, &j.Attempts, &runAt,
		&j.LeaseOwner, &leaseUntil, &j.LastError, &created, &updated)
	if err != nil {
		return nil, err
	}
	j.Kind = driver.JobKind(kind)
	if payload != "" {
		j.Payload = []byte(payload)
	}
	j.RunAt, j.LeaseUntil = fromMicros(runAt), fromMicros(leaseUntil)
	j.CreatedAt, j.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &j, nil
}

// insertJobs stores new jobs in tx; at fills a zero CreatedAt, and
// CreatedAt a zero RunAt. Attempts and leases start empty.
func (s *Store) insertJobs(ctx context.Context, tx *sql.Tx, jobs []driver.JobRecord, at time.Time) error {
	for i := range jobs {
		j := jobs[i]
		if j.ID == "" || j.Workspace == "" || j.Kind == "" {
			return invalid("job %q needs an id, a workspace and a kind", j.ID)
		}
		if j.CreatedAt.IsZero() {
			j.CreatedAt = at
		}
		if j.CreatedAt.IsZero() {
			return invalid("job %s: creation time not set", j.ID)
		}
		if j.RunAt.IsZero() {
			j.RunAt = j.CreatedAt
		}
		j.UpdatedAt = j.CreatedAt
		j.Attempts, j.LeaseOwner, j.LeaseUntil = 0, "", time.Time{}
		if _, err := tx.ExecContext(ctx, s.q(insertSQL("jobs", jobColumns)), jobArgs(&j)...); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueJobs stores new jobs in one transaction; see driver.JobStore.
func (s *Store) EnqueueJobs(ctx context.Context, jobs []driver.JobRecord) error {
	if len(jobs) == 0 {
		return nil
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error { return s.insertJobs(ctx, tx, jobs, time.Time{}) })
	return s.fail(ctx, "enqueue jobs", err)
}

// skipLocked is the row-locking clause of the claim's picking select:
// PostgreSQL locks the picked rows and skips those another claimer holds,
// so concurrent claimers take different jobs without waiting. SQLite's
// immediate write transaction already serialises claimers.
func (s *Store) skipLocked() string {
	if s.d.Name() == "postgres" {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ClaimJobs leases due jobs; see driver.JobStore. The picked ids are a
// materialised CTE, evaluated once, so that the planner cannot run the
// limited select again (which, skipping locked rows, could pick others and
// claim more than the limit). The outer condition repeats the due test so
// that a row re-read after a concurrent claim committed is not claimed
// twice.
func (s *Store) ClaimJobs(ctx context.Context, c *driver.JobClaim) ([]driver.JobRecord, error) {
	const op = "claim jobs"
	switch {
	case c == nil || c.Owner == "":
		return nil, s.fail(ctx, op, invalid("a claim needs an owner"))
	case c.Now.IsZero() || c.Lease <= 0:
		return nil, s.fail(ctx, op, invalid("a claim needs a time and a positive lease"))
	case c.Limit < 1 || c.Limit > maxClaim:
		return nil, s.fail(ctx, op, invalid("claim limit must be 1..%d", maxClaim))
	}
	now := micros(c.Now)
	var out []driver.JobRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, s.q(`WITH picked AS MATERIALIZED (
				SELECT id FROM jobs WHERE run_at <= ? AND lease_until <= ? ORDER BY run_at, id LIMIT ?`+s.skipLocked()+`)
			UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
			WHERE run_at <= ? AND lease_until <= ? AND id IN (SELECT id FROM picked)
			RETURNING `+jobColumns),
			now, now, c.Limit, c.Owner, micros(c.Now.Add(c.Lease)), now, now, now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			out = append(out, *j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	// RETURNING has no order of its own.
	slices.SortFunc(out, func(a, b driver.JobRecord) int {
		return cmp.Or(a.RunAt.Compare(b.RunAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// leaseHeld is the condition that j still holds its job's lease.
const leaseHeld = `id = ? AND lease_owner = ? AND attempts = ?`

// CompleteJob removes a job while j holds its lease; see driver.JobStore.
func (s *Store) CompleteJob(ctx context.Context, j *driver.JobRecord) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error { return s.completeJob(ctx, tx, j) })
	return s.fail(ctx, "complete job", err)
}

func (s *Store) completeJob(ctx context.Context, tx *sql.Tx, j *driver.JobRecord) error {
	if j == nil || j.LeaseOwner == "" {
		return invalid("complete job: no lease")
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM jobs WHERE `+leaseHeld), j.ID, j.LeaseOwner, j.Attempts)
	if err != nil {
		return err
	}
	if oneRow(res) != nil {
		return fmt.Errorf("job %s: lease lost: %w", j.ID, driver.ErrPrecondition)
	}
	return nil
}

// RenewJob extends a held lease; see driver.JobStore.
func (s *Store) RenewJob(ctx context.Context, j *driver.JobRecord, until time.Time) error {
	const op = "renew job"
	if j == nil || j.LeaseOwner == "" || until.IsZero() {
		return s.fail(ctx, op, invalid("renew job: no lease or no time"))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET lease_until = ? WHERE `+leaseHeld),
			micros(until), j.ID, j.LeaseOwner, j.Attempts)
		if err != nil {
			return err
		}
		if oneRow(res) != nil {
			return fmt.Errorf("job %s: lease lost: %w", j.ID, driver.ErrPrecondition)
		}
		return nil
	})
	return s.fail(ctx, op, err)
}

// RetryJob releases a job's lease and reschedules it; see driver.JobStore.
func (s *Store) RetryJob(ctx context.Context, j *driver.JobRecord, runAt time.Time, lastError string) error {
	const op = "retry job"
	if j == nil || j.LeaseOwner == "" || runAt.IsZero() {
		return s.fail(ctx, op, invalid("retry job: no lease or no time"))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET run_at = ?, lease_owner = '', lease_until = 0, last_error = ?, updated_at = ?
			WHERE `+leaseHeld), micros(runAt), lastError, micros(runAt), j.ID, j.LeaseOwner, j.Attempts)
		if err != nil {
			return err
		}
		if oneRow(res) != nil {
			return fmt.Errorf("job %s: lease lost: %w", j.ID, driver.ErrPrecondition)
		}
		return nil
	})
	return s.fail(ctx, op, err)
}

// ReleaseJob hands back an interrupted claim without counting its
// attempt; see driver.JobStore.
func (s *Store) ReleaseJob(ctx context.Context, j *driver.JobRecord, at time.Time) error {
	const op = "release job"
	if j == nil || j.LeaseOwner == "" || at.IsZero() {
		return s.fail(ctx, op, invalid("release job: no lease or no time"))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET lease_owner = '', lease_until = 0, attempts = attempts - 1, updated_at = ?
			WHERE `+leaseHeld+` AND attempts > 0`), micros(at), j.ID, j.LeaseOwner, j.Attempts)
		if err != nil {
			return err
		}
		if oneRow(res) != nil {
			return fmt.Errorf("job %s: lease lost: %w", j.ID, driver.ErrPrecondition)
		}
		return nil
	})
	return s.fail(ctx, op, err)
}

// Job returns a job by id, or an error matching driver.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (*driver.JobRecord, error) {
	j, err := scanJob(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+jobColumns+` FROM jobs WHERE id = ?`), id))
	if err != nil {
		return nil, s.fail(ctx, "job "+id, err)
	}
	return j, nil
}

// SettleFile ends a version's processing: the file and the version take
// the verdict; see driver.JobStore.
func (s *Store) SettleFile(ctx context.Context, st *driver.FileSettle) (*driver.FileRecord, error) {
	const op = "settle file"
	switch {
	case st == nil:
		return nil, s.fail(ctx, op, invalid("nil settle"))
	case st.Status != driver.StatusReady && st.Status != driver.StatusRejected && st.Status != driver.StatusFailed:
		return nil, s.fail(ctx, op, invalid("file %s: settle status %q is not ready, rejected or failed", st.FileID, st.Status))
	case st.At.IsZero():
		return nil, s.fail(ctx, op, invalid("file %s: settle time not set", st.FileID))
	}
	var file *driver.FileRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE files SET status = ?, status_code = ?, status_reason = ?, updated_at = ?
			WHERE id = ? AND workspace = ? AND version = ? AND status = ? AND deleted_at = 0`),
			string(st.Status), st.Code, st.Reason, micros(st.At),
			st.FileID, st.Workspace, st.Version, string(driver.StatusProcessing))
		if err != nil {
			return err
		}
		if oneRow(res) != nil {
			if err := s.exists(ctx, st.Workspace, st.FileID, false); err != nil {
				return err
			}
			return fmt.Errorf("file %s is no longer processing version %d: %w", st.FileID, st.Version, driver.ErrPrecondition)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET status = ? WHERE file_id = ? AND workspace = ? AND version = ?`),
			string(st.Status), st.FileID, st.Workspace, st.Version); err != nil {
			return err
		}
		if st.Job != nil {
			if err := s.completeJob(ctx, tx, st.Job); err != nil {
				return err
			}
		}
		if err := s.insertJobs(ctx, tx, st.Enqueue, st.At); err != nil {
			return err
		}
		file, err = scanFile(tx.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ?`),
			st.FileID, st.Workspace))
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return file, nil
}

// FailUpload moves a pending ticket to rejected and a file without a
// version to failed; see driver.JobStore.
func (s *Store) FailUpload(ctx context.Context, workspace, uploadID, code, reason string, at time.Time) error {
	return s.endUpload(ctx, "fail upload "+uploadID, workspace, uploadID, code, reason, at, driver.StatusFailed)
}

// UpgradeDigest replaces a version's digest, and the file's when that
// version is current, where it is still from; see driver.JobStore.
func (s *Store) UpgradeDigest(ctx context.Context, workspace, fileID string, version int, from, to string) error {
	op := "upgrade digest of " + fileID
	if from == "" || to == "" {
		return s.fail(ctx, op, invalid("file %s: empty digest", fileID))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE versions SET digest = ? WHERE file_id = ? AND workspace = ? AND version = ? AND digest = ?`),
			to, fileID, workspace, version, from)
		if err != nil {
			return err
		}
		if oneRow(res) != nil {
			var one int
			err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM versions WHERE file_id = ? AND workspace = ? AND version = ?`),
				fileID, workspace, version).Scan(&one)
			if err != nil {
				return err
			}
			return fmt.Errorf("version %d of %s no longer has digest %s: %w", version, fileID, from, driver.ErrPrecondition)
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE files SET digest = ? WHERE id = ? AND workspace = ? AND version = ? AND digest = ?`),
			to, fileID, workspace, version, from)
		return err
	})
	return s.fail(ctx, op, err)
}
