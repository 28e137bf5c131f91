/* twinstep.pml: SPIN model of the pair protocol (issue 9): two nodes, the sync
 * link, the etcd witness and a client; roles, events and epochs named as in
 * firmware/role.h. Bounds and mutation switches: firmware/model/README.md.
 * Every step of every process is one atomic action, so interleavings are
 * between whole protocol steps (a message handled, a request answered). */

#ifndef MAXIN
#define MAXIN 2          /* client inputs in one run (outputs are 1:1 with inputs) */
#endif
#ifndef CRASHES
#define CRASHES 1        /* node crashes (host_dead) or operator stops */
#endif
#ifndef FALSESUSP
#define FALSESUSP 1      /* suspicions of a peer that is in fact in lockstep */
#endif
#ifndef LINKFAULTS
#define LINKFAULTS 2     /* frame losses + duplications + link cuts */
#endif
#ifndef WFAULTS
#define WFAULTS 1        /* witness answers lost (unreachable, slow, lost after commit) */
#endif
#ifndef LEASEFAULTS
#define LEASEFAULTS 1    /* lease renewals that fail past the node's deadline */
#endif

/* Names shared with firmware/role.h (RoleName, EventName). */
mtype = { joining, primary, secondary, solo, fenced, stopped,
          start_alone, join_complete, peer_joined, peer_suspected, peer_host_dead,
          witness_grant, witness_deny, witness_unavailable, newer_epoch,
          host_dead, lease_expired, stop, restart };

#define NONE 0           /* pending kind / answer / slot empty */
#define COLD 1           /* ArbitrationKind::kColdStart */
#define FAILOVER 2       /* ArbitrationKind::kFailover */
#define GRANT 1
#define DENY 2
#define UNAV 3
#define NOBODY 2         /* no node */
#define MAXEP 8

/* Frame types on the sync link (a = first field, b = second). */
#define INPUT 1          /* mirrored input: a = primary's state before it, b = input id */
#define CKPT 2           /* checkpoint: a = primary's state */
#define MATCH 3          /* output record: a = output id, b = digest (state after the input) */
#define ACK 4            /* checkpoint applied: a = state */

#define BIT(k) (1 << ((k) - 1))
#define UPTO(k) ((1 << (k)) - 1)   /* ids 1..k */
#define OTHER(i) (1 - (i))
/* the newest input in a state (inputs are applied in id order; MAXIN <= 4) */
#define TOP(st) ((st) & 8 -> 4 : ((st) & 4 -> 3 : ((st) & 2 -> 2 : ((st) & 1 -> 1 : 0))))
/* state st continues the history the client has seen */
#define EXTENDS(st) (((st) & UPTO(TOP(seen))) == seen)
#define LOCKSTEP(r) ((r) == primary || (r) == secondary)
/* firmware ReleasesOutputs(): the release gate */
#define GATE(i) (role[i] == solo || (role[i] == primary && pend[i] == NONE))

/* --- nodes (state of the NIC role machine plus an abstract guest) --- */
mtype role[2] = joining;
byte ep[2];              /* ownership epoch */
byte pend[2];            /* pending witness request kind */
byte mask[2];            /* guest state: the set of inputs applied (applied in id order) */
byte held[2];            /* primary: outputs held until matched */
bit lost[2];             /* ghost: lost the witness (denied or fenced) and not rejoined */

/* --- witness (etcd): epoch key fenced by CAS, owner key on the owner's lease --- */
byte wreq[2];            /* outstanding request kind */
byte wtgt[2];            /* its target epoch (the node's epoch + 1 when asked) */
byte wans[2];            /* answer on its way to the node */
byte wansep[2];
byte w_ep;               /* epoch key */
byte w_node = NOBODY;    /* who holds the epoch key */
byte w_owner = NOBODY;   /* owner key present: its node; NOBODY once absent */
bit lease_dead[2];       /* the node's lease stopped being renewed (crash, lease fault) */

/* --- sync link: two slots per destination; any slot may be taken (reordering) --- */
byte lty[4]; byte la[4]; byte lb[4]; byte lep[4];
bit cut;

/* --- client and ghost state for the properties --- */
byte nin;                /* inputs sent so far */
byte seen;               /* state behind the newest output the client has seen (kk >= TOP) */
byte rel;                /* outputs released */
byte relby[MAXEP];       /* node that released in each epoch, + 1 (0: none yet) */

/* budgets */
byte crashes = CRASHES, falsesusp = FALSESUSP, linkfaults = LINKFAULTS;
byte wfaults = WFAULTS, leasefaults = LEASEFAULTS;

/* temporaries (not part of the state) */
hidden mtype nrole;
hidden byte nep, npend, nrq, k, s, d, x, y;
hidden byte acc;
hidden byte j, dv;

#ifdef WALK
byte noise = 8;          /* ignored events per walk */
byte wsteps;             /* events in this walk */
#define TRACE(i, e, a) printf("TRACE %d %e %d => %e %d\n", i, e, a, role[i], ep[i]); wsteps++
/* witness steps, for the replay against the etcd client: request w (kind, target) and
 * its outcome with the keys after it; a lease that stops being renewed */
#define WTRACE(w, res) printf("WTRACE req %d %d %d %d %d %d %d\n", w, wreq[w], wtgt[w], res, w_ep, w_node, w_owner)
#define LTRACE(j) printf("WTRACE lease %d\n", j)
#else
#define TRACE(i, e, a) skip
#define WTRACE(w, res) skip
#define LTRACE(j) skip
#endif
/* the node's lease stops being renewed (crash, lease fault, or released by its agent) */
inline lease_down(j) {
  if :: !lease_dead[j] -> lease_dead[j] = 1; LTRACE(j) :: else fi
}

/* RoleMachine::Decide (firmware/role.cc), transition for transition. */
inline decide(i, e, a) {
  acc = 0; nrole = role[i]; nep = ep[i]; npend = pend[i]; nrq = NONE;
  if
  :: e == start_alone ->
     if :: role[i] == joining && pend[i] == NONE -> acc = 1; npend = COLD; nrq = COLD :: else fi
  :: e == join_complete ->
     if :: role[i] == joining && pend[i] == NONE && a >= ep[i] -> acc = 1; nrole = secondary; nep = a :: else fi
  :: e == peer_joined ->
     if :: role[i] == solo -> acc = 1; nrole = primary :: else fi
  :: e == peer_suspected || e == peer_host_dead ->
     if :: LOCKSTEP(role[i]) && pend[i] == NONE ->
          acc = 1;
#ifdef M_NO_WITNESS
          nrole = solo; nep = ep[i] + 1   /* mutation: act on suspicion without the witness */
#else
          npend = FAILOVER; nrq = FAILOVER
#endif
     :: else fi
  :: e == witness_grant ->
     if :: pend[i] != NONE && a > ep[i] && (role[i] == joining || LOCKSTEP(role[i])) ->
          acc = 1; nrole = solo; nep = a; npend = NONE
     :: else fi
  :: e == witness_deny ->
     if :: pend[i] != NONE -> acc = 1; nrole = fenced; npend = NONE :: else fi
  :: e == witness_unavailable ->
     if :: pend[i] != NONE -> acc = 1; nrq = pend[i] :: else fi
  :: e == newer_epoch ->
     if :: a > ep[i] && (LOCKSTEP(role[i]) || role[i] == solo) -> acc = 1; nrole = fenced; npend = NONE :: else fi
  :: e == host_dead || e == stop ->
     if :: role[i] != stopped -> acc = 1; nrole = stopped; npend = NONE :: else fi
  :: e == lease_expired ->
#ifndef M_NO_LEASE_FENCE
     if :: role[i] == solo -> acc = 1; nrole = fenced :: else fi
#else
     skip                  /* mutation: a solo keeps releasing without its lease */
#endif
  :: e == restart ->
     if :: role[i] == fenced || role[i] == stopped -> acc = 1; nrole = joining; npend = NONE :: else fi
  :: else -> skip
  fi
}

/* Clears the link both ways for node i (a restarted peer starts a new session). */
inline flush(i) {
  lty[2*i] = 0; lty[2*i+1] = 0; lty[2*OTHER(i)] = 0; lty[2*OTHER(i)+1] = 0
}

/* Applies event e to node i: the role machine, then what the node does. */
inline fire(i, e, a) {
  decide(i, e, a);
  if
  :: acc ->
     if :: nrole == fenced && role[i] != fenced -> lost[i] = 1 :: else fi;
     if :: npend == NONE -> wreq[i] = NONE; wans[i] = NONE :: else fi;  /* answers to it are stale */
     role[i] = nrole; ep[i] = nep; pend[i] = npend;
     if :: nrq != NONE -> wreq[i] = nrq; wtgt[i] = ep[i] + 1; wans[i] = NONE :: else fi;
     if :: nrole == stopped || nrole == fenced || nrole == joining -> mask[i] = 0; held[i] = 0 :: else fi;
#ifndef M_KEEP_LEASE
     /* a stopped or fenced node is not live: its host agent revokes its lease */
     if :: nrole == stopped || nrole == fenced -> lease_down(i) :: else fi;
#endif
     if :: e == restart -> flush(i) :: else fi
  :: else
  fi;
  TRACE(i, e, a)
}

inline send(dst, t, p, q) {
  if
  :: cut -> skip
  :: !cut && lty[2*dst] == 0 -> lty[2*dst] = t; la[2*dst] = p; lb[2*dst] = q; lep[2*dst] = ep[OTHER(dst)]
  :: !cut && lty[2*dst] != 0 && lty[2*dst+1] == 0 ->
     lty[2*dst+1] = t; la[2*dst+1] = p; lb[2*dst+1] = q; lep[2*dst+1] = ep[OTHER(dst)]
  :: else -> skip           /* queue full: lost */
  fi
}

/* Node i puts output k (state dd behind it) on the LAN: the safety properties. */
inline release(i, kk, dd) {
  dv = dd;
  assert(GATE(i));
  /* P1: never two nodes releasing in the same epoch */
  assert(ep[i] < MAXEP && (relby[ep[i]] == 0 || relby[ep[i]] == i + 1));
  relby[ep[i]] = i + 1;
  /* P2: an output is released at most once */
  assert((rel & BIT(kk)) == 0);
  rel = rel | BIT(kk);
  /* P3: the client sees one history: each output's state is a prefix or an extension of it */
  if
  :: kk >= TOP(seen) -> assert(EXTENDS(dv)); seen = dv
  :: else -> assert((seen & UPTO(kk)) == dv)
  fi;
  /* P4: a node that lost the witness never releases until it rejoins */
  assert(!lost[i]);
  /* P5: a solo releases only as the witness's current owner, while its lease lives */
  assert(role[i] != solo || (w_ep == ep[i] && w_node == i && !lease_dead[i]))
}

/* Releases every held output of i contained in state st. */
inline release_held(i, st) {
  k = 1;
  do
  :: k > MAXIN -> break
  :: k <= MAXIN ->
     if :: (held[i] & BIT(k)) && (st & BIT(k)) -> held[i] = held[i] & ~BIT(k); release(i, k, mask[i] & UPTO(k))
     :: else fi;
     k++
  od
}

/* Node i takes the frame in slot sl. */
inline receive(i, sl) {
  x = la[sl]; y = lb[sl]; d = lep[sl]; s = lty[sl]; lty[sl] = 0;
  if
  :: d > ep[i] -> fire(i, newer_epoch, d)        /* any frame carries the sender's epoch */
  :: d < ep[i] -> skip                           /* stale session */
  :: d == ep[i] && s == INPUT ->
     if :: role[i] == secondary && mask[i] == x ->   /* in order only; duplicates dropped */
          mask[i] = mask[i] | BIT(y); send(OTHER(i), MATCH, y, mask[i])
     :: else fi
  :: d == ep[i] && s == CKPT ->
#ifdef M_STALE_CKPT
     if :: role[i] == secondary ->                   /* mutation: an older checkpoint overwrites */
#else
     if :: role[i] == secondary && (x & mask[i]) == mask[i] ->
#endif
          mask[i] = x; send(OTHER(i), ACK, x, 0)
     :: else fi
  :: d == ep[i] && s == MATCH ->
     if :: role[i] == primary && GATE(i) && (held[i] & BIT(x)) && y == (mask[i] & UPTO(x)) ->
#ifndef M_NO_DEDUP
          held[i] = held[i] & ~BIT(x);
#endif
          release(i, x, y)
     :: else fi
  :: d == ep[i] && s == ACK ->
     if :: role[i] == primary && GATE(i) -> release_held(i, x) :: else fi
  fi
}

/* The node consumes its witness answer. */
inline answer(i) {
  s = wans[i]; d = wansep[i]; wans[i] = NONE;
  if
  :: s == GRANT ->
     x = pend[i];
     fire(i, witness_grant, d);
     if
     :: acc && x == COLD ->
        seen = mask[i]; lost[i] = 0  /* a new history (the guest boots from its disk) */
     :: acc && x == FAILOVER ->
        /* P6: the survivor's state covers everything clients have seen */
        assert(EXTENDS(mask[i]));
        lost[i] = 0;
        release_held(i, held[i])                    /* DESIGN 9: held outputs go at once */
     :: else
     fi
  :: s == DENY -> fire(i, witness_deny, 0)
  :: s == UNAV -> fire(i, witness_unavailable, 0)
  fi
}

proctype node(byte i) {
end:  do
  /* re-protect: a joining node takes a state transfer from a solo peer */
  :: atomic { role[i] == joining && pend[i] == NONE && role[OTHER(i)] == solo && !cut &&
              ep[OTHER(i)] >= ep[i] ->
       flush(i);
       fire(i, join_complete, ep[OTHER(i)]);
       mask[i] = mask[OTHER(i)]; lost[i] = 0;
       fire(OTHER(i), peer_joined, 0) }
  /* cold start: the host sees no peer to join (none live, or the link is cut) */
  :: atomic { role[i] == joining && pend[i] == NONE && (role[OTHER(i)] != solo || cut) -> fire(i, start_alone, 0) }
  /* suspicion: true when the peer is not our lockstep partner, else budgeted (false) */
  :: atomic { LOCKSTEP(role[i]) && pend[i] == NONE && role[OTHER(i)] == stopped -> fire(i, peer_host_dead, 0) }
  :: atomic { LOCKSTEP(role[i]) && pend[i] == NONE &&
              (cut || !LOCKSTEP(role[OTHER(i)]) || ep[OTHER(i)] != ep[i]) -> fire(i, peer_suspected, 0) }
  :: atomic { LOCKSTEP(role[i]) && pend[i] == NONE && falsesusp > 0 -> falsesusp--; fire(i, peer_suspected, 0) }
  /* a heartbeat from a peer at a newer epoch */
  :: atomic { !cut && (LOCKSTEP(role[i]) || role[i] == solo) && ep[OTHER(i)] > ep[i] &&
              role[OTHER(i)] != stopped -> fire(i, newer_epoch, ep[OTHER(i)]) }
  :: atomic { wans[i] != NONE -> answer(i) }
  :: atomic { lty[2*i] != 0 -> receive(i, 2*i) }
  :: atomic { lty[2*i+1] != 0 -> receive(i, 2*i+1) }
  /* checkpoint: the primary sends its whole state while outputs are held and it
   * hears its secondary (otherwise only suspicion is left to it) */
  :: atomic { role[i] == primary && GATE(i) && held[i] != 0 && !cut &&
              role[OTHER(i)] == secondary && ep[OTHER(i)] == ep[i] -> send(OTHER(i), CKPT, mask[i], 0) }
  :: atomic { role[i] == fenced || role[i] == stopped -> fire(i, restart, 0) }
#ifdef WALK
  /* events the model ignores in this state: the firmware must ignore them too */
  :: atomic { noise > 0 -> noise--;
       if :: d = start_alone :: d = join_complete :: d = peer_joined :: d = peer_suspected
          :: d = peer_host_dead :: d = witness_grant :: d = witness_deny :: d = witness_unavailable
          :: d = newer_epoch :: d = host_dead :: d = lease_expired :: d = stop :: d = restart fi;
       if :: x = 0 :: x = ep[i] :: x = ep[i] + 1 fi;
       decide(i, d, x);
       if :: !acc -> TRACE(i, d, x) :: else fi }
#endif
  od
}

/* The witness answers node j's requests, each one atomic (an etcd txn): epoch CAS,
 * owner checked for a cold start. One process per node, so neither starves. */
proctype witness(byte w) {
end:  do
  :: atomic { wreq[w] != NONE ->
       /* a dead owner's lease has expired by the time a request is answered */
       if :: w_owner != NOBODY && lease_dead[w_owner] -> w_owner = NOBODY :: else fi;
       if
       :: wfaults > 0 -> wfaults--; wans[w] = UNAV; WTRACE(w, 0)      /* unreachable or too slow: no commit */
       :: else ->
#ifdef M_NO_FENCE
          if :: (wreq[w] != COLD || w_owner == NOBODY) ->      /* mutation: no epoch compare */
#elif defined(M_NO_OWNER)
          if :: w_ep < wtgt[w] ->                              /* mutation: cold start ignores the owner */
#else
          if :: w_ep < wtgt[w] && (wreq[w] != COLD || w_owner == NOBODY) ->
#endif
               /* P7: a cold start (a new history) is never granted while the other node runs
                * the current epoch's guest (primary or solo, its lease alive) */
               assert(wreq[w] != COLD || !((role[OTHER(w)] == primary || role[OTHER(w)] == solo) &&
                                           ep[OTHER(w)] == w_ep && !lease_dead[OTHER(w)]));
               w_ep = wtgt[w]; w_node = w; w_owner = w; lease_dead[w] = 0;
               if
               :: wfaults > 0 -> wfaults--; wans[w] = UNAV; WTRACE(w, 2)  /* committed, answer lost */
               :: else -> wans[w] = GRANT; wansep[w] = w_ep; WTRACE(w, 1)
               fi
#ifdef M_REGRANT_ANY
          :: w_ep == wtgt[w] ->                             /* mutation: re-grant without checking who won */
#else
          :: w_ep == wtgt[w] && w_node == w ->             /* our earlier commit: granted again */
#endif
               w_node = w; w_owner = w; lease_dead[w] = 0; wans[w] = GRANT; wansep[w] = w_ep; WTRACE(w, 1)
          :: else -> wans[w] = DENY; WTRACE(w, 3)
          fi
       fi;
       wreq[w] = NONE }
  od
}

/* Client inputs reach whichever node holds the service address. */
proctype client() {
end:  do
  :: atomic { nin < MAXIN && (role[0] == primary || role[0] == solo || role[1] == primary || role[1] == solo) ->
       if :: role[0] == primary || role[0] == solo -> j = 0 :: role[1] == primary || role[1] == solo -> j = 1 fi;
       nin++;
       x = mask[j];
       mask[j] = mask[j] | BIT(nin);
       if
       :: role[j] == solo -> release(j, nin, mask[j])
#ifdef M_RELEASE_EARLY
       :: role[j] == primary && GATE(j) -> release(j, nin, mask[j])   /* mutation: release before match */
       :: role[j] == primary && !GATE(j) -> held[j] = held[j] | BIT(nin); send(OTHER(j), INPUT, x, nin)
#else
       :: role[j] == primary -> held[j] = held[j] | BIT(nin); send(OTHER(j), INPUT, x, nin)
#endif
       fi }
  od
}

/* Faults, each within its budget: crash or stop, link loss/duplication/cut, lease loss. */
proctype faults() {
end:  do
  :: atomic { crashes > 0 -> crashes--;
       if :: j = 0 :: j = 1 fi;
       if :: role[j] != stopped -> lease_down(j); fire(j, host_dead, 0); flush(j); wreq[j] = NONE
          :: role[j] != stopped -> fire(j, stop, 0)     /* operator stop: the host stays up */
          :: else -> skip fi }
  :: atomic { linkfaults > 0 && lty[0] + lty[1] + lty[2] + lty[3] != 0 -> linkfaults--;
       if :: lty[0] != 0 -> j = 0 :: lty[1] != 0 -> j = 1 :: lty[2] != 0 -> j = 2 :: lty[3] != 0 -> j = 3 fi;
       if
       :: lty[j] = 0                                       /* lost */
       :: lty[j ^ 1] == 0 -> lty[j ^ 1] = lty[j]; la[j ^ 1] = la[j]; lb[j ^ 1] = lb[j]; lep[j ^ 1] = lep[j]  /* duplicated */
       fi }
  :: atomic { linkfaults > 0 && !cut -> linkfaults--; cut = 1; lty[0] = 0; lty[1] = 0; lty[2] = 0; lty[3] = 0 }
  :: atomic { cut -> cut = 0 }
#ifdef WALK
  /* walks for the replay test: start over at a random point */
  :: atomic { (crashes == 0 && nin == MAXIN) || wsteps > 80 ->
       role[0] = joining; role[1] = joining; ep[0] = 0; ep[1] = 0; pend[0] = 0; pend[1] = 0;
       mask[0] = 0; mask[1] = 0; held[0] = 0; held[1] = 0; lost[0] = 0; lost[1] = 0;
       wreq[0] = 0; wreq[1] = 0; wans[0] = 0; wans[1] = 0; w_ep = 0; w_node = NOBODY; w_owner = NOBODY;
       lease_dead[0] = 0; lease_dead[1] = 0; lty[0] = 0; lty[1] = 0; lty[2] = 0; lty[3] = 0; cut = 0;
       nin = 0; seen = 0; rel = 0;
       j = 0; do :: j < MAXEP -> relby[j] = 0; j++ :: else -> break od;
       crashes = CRASHES; falsesusp = FALSESUSP; linkfaults = LINKFAULTS; wfaults = WFAULTS; leasefaults = LEASEFAULTS;
       noise = 8; wsteps = 0; printf("WALK\n") }
#endif
  /* the agent cannot renew the lease: the node is told before etcd can expire it
   * (not while a grant is on its way: the grant renewed the lease, and the deadline
   * is far longer than one request) */
  :: atomic { leasefaults > 0 && (wans[0] != GRANT || wans[1] != GRANT) -> leasefaults--;
       if :: wans[0] != GRANT -> j = 0 :: wans[1] != GRANT -> j = 1 fi;
       fire(j, lease_expired, 0); lease_down(j) }
  od
}

#ifdef LIVE
/* Outputs can flow: a solo, or a primary with its gate open and its secondary in lockstep. */
#define SERVING(i) (role[i] == solo || (role[i] == primary && pend[i] == NONE && \
                    role[OTHER(i)] == secondary && ep[OTHER(i)] == ep[i]))
/* L1: with faults bounded (so the witness answers and a node survives), outputs flow again, forever */
ltl flow { [] <> (SERVING(0) || SERVING(1)) }
#endif

init {
  atomic { run node(0); run node(1); run witness(0); run witness(1); run client(); run faults() }
}
