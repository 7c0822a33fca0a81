-- The same store written by lightning_autotune at schema version 1 to PostgreSQL (pg_dump --inserts
-- --no-owner --no-privileges, without its session settings and psql meta-commands).
CREATE TABLE public.schema_version (
    version integer NOT NULL
);
CREATE TABLE public.studies (
    id integer NOT NULL,
    name character varying(512) NOT NULL,
    space text NOT NULL,
    directions text NOT NULL,
    user_attrs text NOT NULL,
    created_at timestamp with time zone NOT NULL
);
CREATE SEQUENCE public.studies_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.studies_id_seq OWNED BY public.studies.id;
CREATE TABLE public.trial_intermediate (
    trial_id integer NOT NULL,
    step integer NOT NULL,
    value double precision
);
CREATE TABLE public.trial_metrics (
    trial_id integer NOT NULL,
    step integer NOT NULL,
    name character varying(256) NOT NULL,
    value double precision
);
CREATE TABLE public.trials (
    id integer NOT NULL,
    study_id integer NOT NULL,
    number integer NOT NULL,
    state character varying(16) NOT NULL,
    params text NOT NULL,
    "values" text,
    reason text,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    heartbeat_at timestamp with time zone,
    worker character varying(256),
    retry_of integer,
    user_attrs text NOT NULL
);
CREATE SEQUENCE public.trials_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.trials_id_seq OWNED BY public.trials.id;
ALTER TABLE ONLY public.studies ALTER COLUMN id SET DEFAULT nextval('public.studies_id_seq'::regclass);
ALTER TABLE ONLY public.trials ALTER COLUMN id SET DEFAULT nextval('public.trials_id_seq'::regclass);
INSERT INTO public.schema_version VALUES (1);
INSERT INTO public.studies VALUES (1, 'old-study', '{"x": {"type": "continuous", "min": 0.0, "max": 1.0}, "n": {"type": "integer", "min": 1, "max": 4}}', '["minimize"]', '{"seed": 3, "last_stop": {"reason": "trial budget reached", "at": "2026-12-07T16:46:15.155280+00:00", "by": "vm:8704"}}', '2026-12-07 16:46:13.547239+00');
INSERT INTO public.studies VALUES (2, 'second', '{"lr": {"type": "continuous", "min": 0.0001, "max": 0.1, "scale": "log"}}', '["maximize"]', '{"seed": null}', '2026-12-07 16:46:15.358238+00');
INSERT INTO public.trial_intermediate VALUES (1, 0, 1.199405879713595);
INSERT INTO public.trial_intermediate VALUES (1, 1, 0.9494058797135949);
INSERT INTO public.trial_intermediate VALUES (2, 0, 0.7754025803878903);
INSERT INTO public.trial_intermediate VALUES (2, 1, 0.5254025803878903);
INSERT INTO public.trial_intermediate VALUES (3, 0, 1.492182731628418);
INSERT INTO public.trial_intermediate VALUES (3, 1, 1.242182731628418);
INSERT INTO public.trial_intermediate VALUES (4, 0, 1.333130568265915);
INSERT INTO public.trial_intermediate VALUES (4, 1, 1.083130568265915);
INSERT INTO public.trial_intermediate VALUES (5, 0, 0.6279983855783939);
INSERT INTO public.trial_intermediate VALUES (5, 1, 0.37799838557839394);
INSERT INTO public.trial_intermediate VALUES (6, 0, 0.9305335925891995);
INSERT INTO public.trial_intermediate VALUES (6, 1, 0.6805335925891995);
INSERT INTO public.trial_intermediate VALUES (15, 0, NULL);
INSERT INTO public.trial_metrics VALUES (1, 0, 'val_loss', 0.5);
INSERT INTO public.trial_metrics VALUES (1, 0, 'acc', 0.7);
INSERT INTO public.trial_metrics VALUES (1, 1, 'val_loss', 0.25);
INSERT INTO public.trial_metrics VALUES (2, 0, 'val_loss', 0.5);
INSERT INTO public.trial_metrics VALUES (2, 0, 'acc', 0.7);
INSERT INTO public.trial_metrics VALUES (2, 1, 'val_loss', 0.25);
INSERT INTO public.trial_metrics VALUES (3, 0, 'val_loss', 0.5);
INSERT INTO public.trial_metrics VALUES (3, 0, 'acc', 0.7);
INSERT INTO public.trial_metrics VALUES (3, 1, 'val_loss', 0.25);
INSERT INTO public.trial_metrics VALUES (4, 0, 'val_loss', 0.5);
INSERT INTO public.trial_metrics VALUES (4, 0, 'acc', 0.7);
INSERT INTO public.trial_metrics VALUES (4, 1, 'val_loss', 0.25);
INSERT INTO public.trial_metrics VALUES (5, 0, 'val_loss', 0.5);
INSERT INTO public.trial_metrics VALUES (5, 0, 'acc', 0.7);
INSERT INTO public.trial_metrics VALUES (5, 1, 'val_loss', 0.25);
INSERT INTO public.trial_metrics VALUES (6, 0, 'val_loss', 0.5);
INSERT INTO public.trial_metrics VALUES (6, 0, 'acc', 0.7);
INSERT INTO public.trial_metrics VALUES (6, 1, 'val_loss', 0.25);
INSERT INTO public.trials VALUES (14, 1, 13, 'FAILED', '{"x": 0.3324593435972929, "n": 4}', NULL, NULL, '2026-12-07 16:46:15.284647+00', '2026-12-07 16:46:15.293332+00', '2026-12-07 16:46:15.284647+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (1, 1, 0, 'COMPLETE', '{"x": 0.6994058797135949, "n": 3}', '[0.4891685845779476]', NULL, '2026-12-07 16:46:14.803009+00', '2026-12-07 16:46:14.845791+00', '2026-12-07 16:46:14.825863+00', 'vm:8704', NULL, '{"note": {"what": "ok"}}');
INSERT INTO public.trials VALUES (15, 1, 14, 'PRUNED', '{"x": 0.6272052023559809, "n": 2}', '["NaN"]', 'objective was nan at step 0', '2026-12-07 16:46:15.300638+00', '2026-12-07 16:46:15.312735+00', '2026-12-07 16:46:15.30434+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (16, 1, 15, 'RUNNING', '{"x": 0.6683800099417567, "n": 4}', NULL, NULL, '2026-12-07 16:46:15.320365+00', NULL, '2026-12-07 16:46:15.320365+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (17, 1, 16, 'WAITING', '{"x": 0.5, "n": 2}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{}');
INSERT INTO public.trials VALUES (18, 2, 0, 'COMPLETE', '{"lr": 0.03562512538489399}', '[0.9]', NULL, '2026-12-07 16:46:15.376763+00', '2026-12-07 16:46:15.391979+00', '2026-12-07 16:46:15.376763+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (2, 1, 1, 'FAILED', '{"x": 0.27540258038789034, "n": 1}', NULL, 'oom: MemoryError: cannot allocate 8 GiB', '2026-12-07 16:46:14.867071+00', '2026-12-07 16:46:14.897844+00', '2026-12-07 16:46:14.879487+00', 'vm:8704', NULL, '{"note": {"what": "oom"}, "error_at": "make.py:18 in objective"}');
INSERT INTO public.trials VALUES (3, 1, 2, 'FAILED', '{"x": 0.992182731628418, "n": 2}', NULL, 'ValueError: bad batch', '2026-12-07 16:46:14.917471+00', '2026-12-07 16:46:14.952878+00', '2026-12-07 16:46:14.932299+00', 'vm:8704', NULL, '{"note": {"what": "value"}, "error_at": "make.py:20 in objective"}');
INSERT INTO public.trials VALUES (4, 1, 3, 'PRUNED', '{"x": 0.8331305682659149, "n": 4}', '[1.083130568265915]', 'MedianPruner at step 1 (value 0.9)', '2026-12-07 16:46:14.984547+00', '2026-12-07 16:46:15.017368+00', '2026-12-07 16:46:15.000383+00', 'vm:8704', NULL, '{"note": {"what": "pruned"}}');
INSERT INTO public.trials VALUES (5, 1, 4, 'FAILED', '{"x": 0.12799838557839394, "n": 2}', '["NaN"]', 'objective value was nan', '2026-12-07 16:46:15.055028+00', '2026-12-07 16:46:15.088691+00', '2026-12-07 16:46:15.066802+00', 'vm:8704', NULL, '{"note": {"what": "nan"}}');
INSERT INTO public.trials VALUES (6, 1, 5, 'COMPLETE', '{"x": 0.43053359258919954, "n": 3}', '[0.18535917434776286]', NULL, '2026-12-07 16:46:15.124926+00', '2026-12-07 16:46:15.145222+00', '2026-12-07 16:46:15.130499+00', 'vm:8704', NULL, '{"note": {"what": "ok"}}');
INSERT INTO public.trials VALUES (7, 1, 6, 'FAILED', '{"x": 0.6083369264379144, "n": 1}', NULL, 'interrupted: KeyboardInterrupt', '2026-12-07 16:46:15.16767+00', '2026-12-07 16:46:15.171394+00', '2026-12-07 16:46:15.16767+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (8, 1, 7, 'FAILED', '{"x": 0.5318488273769617, "n": 4}', NULL, 'process died: signal SIGKILL', '2026-12-07 16:46:15.184548+00', '2026-12-07 16:46:15.190971+00', '2026-12-07 16:46:15.184548+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (9, 1, 8, 'FAILED', '{"x": 0.4909013342112303, "n": 2}', NULL, 'heartbeat lost: no heartbeat for 75 s', '2026-12-07 16:46:15.200501+00', '2026-12-07 16:46:15.20621+00', '2026-12-07 16:46:15.200501+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (10, 1, 9, 'FAILED', '{"x": 0.2005657097324729, "n": 3}', NULL, 'coordinator lost: its process ended', '2026-12-07 16:46:15.218306+00', '2026-12-07 16:46:15.225619+00', '2026-12-07 16:46:15.218306+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (11, 1, 10, 'FAILED', '{"x": 0.7766845924779773, "n": 1}', NULL, 'timeout: ran longer than trial_timeout=30s', '2026-12-07 16:46:15.238665+00', '2026-12-07 16:46:15.241471+00', '2026-12-07 16:46:15.238665+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (12, 1, 11, 'FAILED', '{"x": 0.9312051935121417, "n": 3}', NULL, 'stopped: time budget reached', '2026-12-07 16:46:15.252013+00', '2026-12-07 16:46:15.26062+00', '2026-12-07 16:46:15.252013+00', NULL, NULL, '{}');
INSERT INTO public.trials VALUES (13, 1, 12, 'FAILED', '{"x": 0.10913072433322668, "n": 1}', NULL, 'MetricNotFoundError: monitor ''val_acc'' was never logged; logged: [''val_loss'']', '2026-12-07 16:46:15.267854+00', '2026-12-07 16:46:15.277518+00', '2026-12-07 16:46:15.267854+00', NULL, NULL, '{}');
SELECT pg_catalog.setval('public.studies_id_seq', 2, true);
SELECT pg_catalog.setval('public.trials_id_seq', 18, true);
ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);
ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_name_key UNIQUE (name);
ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.trial_intermediate
    ADD CONSTRAINT trial_intermediate_pkey PRIMARY KEY (trial_id, step);
ALTER TABLE ONLY public.trial_metrics
    ADD CONSTRAINT trial_metrics_pkey PRIMARY KEY (trial_id, step, name);
ALTER TABLE ONLY public.trials
    ADD CONSTRAINT trials_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.trials
    ADD CONSTRAINT uq_trials_study_number UNIQUE (study_id, number);
CREATE INDEX ix_trials_study_state ON public.trials USING btree (study_id, state);
ALTER TABLE ONLY public.trial_intermediate
    ADD CONSTRAINT trial_intermediate_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.trial_metrics
    ADD CONSTRAINT trial_metrics_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.trials
    ADD CONSTRAINT trials_study_id_fkey FOREIGN KEY (study_id) REFERENCES public.studies(id) ON DELETE CASCADE;
