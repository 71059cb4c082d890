## mama — 한국어. 모든 키는 ../en/mama.ftl 에도 있어야 합니다 (카탈로그 테스트).
## 개수는 $name(복수형 선택)과 $name_fmt(천 단위 구분, 화면 표시용)로 전달됩니다.

## 탐색과 공통 단어
nav-label = 주 메뉴
nav-users = 사용자
nav-services = 서비스
nav-models = 모델
nav-sync = 동기화
nav-api-clients = API 클라이언트
nav-audit = 감사 기록
nav-admins = 관리자
nav-account = 계정
nav-password = 비밀번호
nav-logout = 로그아웃
nav-language = 언어
action-cancel = 취소
action-back = 돌아가기
action-delete = 삭제
action-save = 저장
action-done = 완료
col-created = 생성일
col-user = 사용자
yes = 예
time-never = 없음
times-in-zone = 시간은 { $zone } 기준으로 표시됩니다.
users-count = { $count_fmt }명

## 역할과 권한 범위
role-super-admin = 최고 관리자
role-admin = 관리자
role-auditor = 감사자
role-unknown = 알 수 없는 역할
role-noun-super-admin = 최고 관리자
role-noun-admin = 관리자
role-noun-auditor = 감사자
scope-keys-read = 사용자 키 조회
scope-models-read = 모델 목록 조회
scope-audit-read = 감사 기록 조회

## 입력 항목 이름 (오류 메시지 안에서도 쓰임)
field-username = 사용자 이름
field-password = 비밀번호
field-current-password = 현재 비밀번호
field-new-password = 새 비밀번호
field-confirm-password = 새 비밀번호 확인
field-initial-password = 초기 비밀번호
field-temporary-password = 임시 비밀번호
field-role = 역할
field-name = 이름
field-description = 설명
field-scopes = 권한 범위
field-token = 토큰
field-rate-limit-per-minute = 분당 요청 수
field-language = 언어
field-time-zone = 시간대
field-since = 시작
field-until = 종료
field-actor = 수행자
field-user = 대상 사용자 ID
field-user-id = 사용자 ID
field-action = 작업
field-outcome = 결과
field-request-id = 요청 ID

## 입력 검증 메시지
err-required = { $field } 항목은 필수입니다.
err-invalid = { $field } 항목이 올바르지 않습니다.
err-too-long = { $field } 항목은 최대 { $max_fmt }자입니다.
err-enter-username = 사용자 이름을 입력하세요.
err-username-long = 사용자 이름은 최대 64자입니다.
err-enter-password = 비밀번호를 입력하세요.
err-password-too-long = 비밀번호가 너무 깁니다.
err-enter-current-password = 현재 비밀번호를 입력하세요.
err-enter-new-password = 새 비밀번호를 입력하세요.
err-password-min-chars = 새 비밀번호는 8자 이상이어야 합니다.
err-password-long = 새 비밀번호는 128자 이하여야 합니다.
err-password-admin = 새 비밀번호로 "admin"은 쓸 수 없습니다.
err-password-username = 새 비밀번호는 사용자 이름과 달라야 합니다.
err-password-common = 새 비밀번호가 가장 흔히 쓰이는 비밀번호 중 하나입니다. 다른 비밀번호를 고르세요.
err-passwords-differ = 두 비밀번호가 일치하지 않습니다.
err-password-unchanged = 새 비밀번호는 현재 비밀번호와 달라야 합니다.
err-current-password-wrong = 현재 비밀번호가 올바르지 않습니다.
err-username-length = 사용자 이름은 1자에서 64자 사이입니다.
err-username-chars = 영문자, 숫자와 . _ @ - 만 쓸 수 있습니다.
err-username-taken = 같은 사용자 이름의 계정이 이미 있습니다.
err-choose-role = 역할을 고르세요.
err-enter-name = 이름을 입력하세요.
err-name-long = 이름은 최대 64자입니다.
err-name-chars = 영문자, 숫자, 공백과 '-', '_', '.' 만 쓸 수 있습니다.
err-api-client-taken = 같은 이름의 API 클라이언트가 이미 있습니다.
err-scope-unknown = 목록에 있는 권한 범위를 고르세요.
err-scope-none = 권한 범위를 하나 이상 고르세요.
err-rate-limit = 1부터 { $max_fmt } 사이의 정수를 입력하거나, 기본값을 쓰려면 비워 두세요.
err-service-name-long = 서비스 이름은 최대 128자입니다.
err-service-name-chars = 영문자, 숫자와 . _ - : 만 쓸 수 있습니다.
err-service-taken = 같은 이름의 서비스가 이미 있습니다.
err-control-chars = { $field } 항목에 제어 문자가 있습니다.
err-date = { $field }: 2026-11-22 또는 2026-11-22T13:45 형식으로 입력하세요.
err-end-before-start = 종료는 시작보다 뒤여야 합니다.
err-action-group = 이 그룹에 속한 작업이 없습니다.
err-action-unknown = 알 수 없는 작업입니다. 목록에서 고르세요.
err-outcome = 성공, 거부, 잘못된 입력, 오류 중에서 고르세요.
err-language = 한국어나 영어를 고르거나 브라우저 설정을 따르세요.
err-time-zone = Asia/Seoul 이나 UTC 같은 시간대를 입력하세요.

## 알림 메시지
flash-session-ended = 세션이 종료되었습니다. 다시 로그인하세요.
flash-session-expired = 세션이 만료되었습니다. 다시 로그인하세요.
flash-logged-out = 로그아웃했습니다.
flash-password-changed = 비밀번호를 변경했습니다.
flash-account-saved = 언어와 시간대를 저장했습니다.
flash-admin-created = { $role } “{ $username }” 계정을 만들었습니다. 첫 로그인 때 새 비밀번호를 정해야 합니다.
flash-admin-deleted = “{ $username }” 계정을 삭제했고 그 세션을 모두 종료했습니다.
flash-admin-reset = “{ $username }”의 비밀번호를 재설정했습니다. 다음 로그인 때 새 비밀번호를 정해야 합니다.
flash-api-client-revoked = `{ $name }`을(를) 폐기했습니다. 토큰은 즉시 더 이상 쓸 수 없습니다.
flash-api-client-already-revoked = `{ $name }`은(는) 이미 폐기되었습니다.
flash-service-added = 서비스 `{ $name }`을(를) 추가했습니다.
flash-service-saved = 서비스 `{ $name }`을(를) 저장했습니다.
flash-service-saved-synced = 서비스 `{ $name }`을(를) 저장했습니다. 사용자 { $count_fmt }명이 LiteLLM 동기화 대기열에 들어갔습니다.
flash-service-deleted = 서비스 `{ $name }`을(를) 삭제했습니다.
flash-sync-retried = 사용자 { $count_fmt }명을 다시 시도하도록 대기열에 넣었습니다.
flash-reconcile-repaired = 사용자 { $count_fmt }명을 복구 대기열에 넣었습니다. mama가 모르는 키 { $unknown_fmt }개는 그대로 두었습니다.
flash-chain-intact = 감사 체인 이상 없음: 이벤트 { $count_fmt }건 확인 (헤드 seq { $seq }), 지금 { $sealed_fmt }건 봉인.
flash-chain-broken = 감사 체인 손상: 이벤트 ID { $id }.

## 시스템 공지
notice-litellm-unconfigured = LiteLLM이 설정되지 않았습니다 (LITELLM_BASE_URL 과 LITELLM_MASTER_KEY 를 설정하세요). 설정될 때까지 키는 mama에 보관되고 대기 상태로 남습니다.
notice-litellm-unreachable = LiteLLM에 연결할 수 없습니다. 변경 사항은 보관되어 대기 중이며, 연결되면 전송됩니다.
notice-litellm-unreachable-models = LiteLLM에 연결할 수 없습니다. 모델 목록은 마지막으로 받은 목록이며, 변경 사항은 대기 중입니다.

## 로그인
login-title = 로그인
login-heading = mama 로그인
login-submit = 로그인
login-wrong = 사용자 이름이나 비밀번호가 틀렸습니다.
login-locked = 로그인 실패가 너무 많아 이 계정이 잠겼습니다. 나중에 다시 시도하거나 최고 관리자에게 비밀번호 재설정을 요청하세요.
login-now-locked = 로그인 실패가 너무 많아 이 계정을 한동안 잠갔습니다.
login-ip-throttled = 이 주소에서 로그인 실패가 너무 많습니다. { $seconds_fmt }초 뒤에 다시 시도하세요.

## 비밀번호와 계정
password-title = 비밀번호 변경
password-heading = 비밀번호 변경
password-forced = mama를 쓰기 전에 새 비밀번호를 정해야 합니다.
password-help = 8자 이상. 긴 문장이 가장 좋습니다. 흔한 비밀번호는 거부됩니다.
password-submit = 비밀번호 변경
password-others-logged-out = 비밀번호를 바꾸면 다른 세션은 모두 로그아웃됩니다.
account-title = 계정
account-heading = 언어와 시간대
account-language-browser = 브라우저 설정 따르기
account-time-zone-help = Asia/Seoul 이나 UTC 같은 IANA 이름. 비워 두면 { $zone }.
account-now = 지금은 { $time }입니다.
account-save = 저장
account-change-password = 비밀번호 변경

## 관리자
admins-title = 관리자
admins-heading = 관리자와 감사자
admins-new = 새 계정
admins-new-heading = 새 관리자 또는 감사자
admins-new-password-help = 첫 로그인 때 바꿔야 합니다. 8자 이상이며 흔한 비밀번호는 거부됩니다.
admins-create = 계정 만들기
admins-col-status = 상태
admins-col-last-login = 마지막 로그인
admins-you = (나)
admins-locked = 잠김
admins-must-change = 비밀번호 변경 필요
admins-reset-password = 비밀번호 재설정
admins-reset-heading = { $username } 비밀번호 재설정
admins-reset-explain = 세션은 지금 종료되고 계정 잠금이 풀리며, 다음 로그인 때 새 비밀번호를 정해야 합니다.
admins-delete-title = { $username } 삭제
admins-delete-heading = { $username } 계정을 삭제할까요?
admins-delete-explain = { $username } 계정은 삭제되고 즉시 로그아웃됩니다. 되돌릴 수 없습니다.
admins-delete-confirm = { $username } 삭제
admins-refuse-self = 자기 계정은 삭제할 수 없습니다.
admins-refuse-last = 마지막 최고 관리자라서 삭제할 수 없습니다.

## API 클라이언트
api-clients-new = 새 API 클라이언트
api-clients-create = API 클라이언트 만들기
api-clients-intro = 내부 시스템은 베어러 토큰으로 REST API를 호출합니다. 토큰은 만들 때 한 번만 보이며, mama는 해시만 보관합니다.
api-clients-docs = REST API 문서
api-clients-col-rate = 요청 한도
api-clients-col-last-used = 마지막 사용
api-clients-rate = 분당 { $count_fmt }회
api-clients-rate-default = 분당 { $count_fmt }회 (기본값)
api-clients-by = 만든 사람 { $admin }
api-clients-revoked-at = { $time } 폐기됨
api-clients-revoke = 폐기…
api-clients-empty = 아직 API 클라이언트가 없습니다.
api-clients-name-help = API를 호출할 시스템의 이름. 예:
api-clients-created-title = API 클라이언트 생성됨
api-clients-created-heading = API 클라이언트 { $name } 생성됨
api-clients-copy-now = 지금 이 토큰을 복사하세요.
api-clients-shown-once = 이번 한 번만 보이며, mama는 해시만 보관합니다. 다음과 같이 보내세요:
api-clients-revoke-heading = { $name }을(를) 폐기할까요?
api-clients-already-revoked = { $name }은(는) 이미 폐기되었습니다.
api-clients-revoke-explain = 토큰은 즉시 쓸 수 없게 됩니다. 이 토큰으로 API를 호출하는 모든 시스템은 다음 요청부터 401을 받습니다. 되돌릴 수 없으며, 새 클라이언트는 새 토큰을 받습니다.
api-clients-revoke-confirm = { $name } 폐기

## 서비스
services-intro = 관리자가 사용자에게 허용하는 내부 서비스입니다. 사용자에게 허용된 서비스는 삭제할 수 없습니다.
services-add = 서비스 추가
services-empty = 아직 서비스가 없습니다.
services-col-name = 이름과 설명
services-name-of = { $name }의 이름
services-description-of = { $name }의 설명
services-in-use = `{ $name }`을(를) 아직 사용자 { $count_fmt }명이 쓰고 있습니다: { $users }{ $more ->
    [0] {""}
   *[other] {" "}외 { $more_fmt }명
}. 먼저 그 사용자들에게서 제거하세요 (/users 에서 선택한 뒤 “서비스: 제거”).

## 동기화와 대조
sync-heading = LiteLLM 동기화
sync-compare = LiteLLM과 비교
sync-queued = 대기
sync-due-now = 지금 처리할 작업 { $count_fmt }건
sync-in-flight = 처리 중
sync-failed = 실패
sync-throughput = 처리량
sync-jobs-per-second = 초당 작업 수 (최근 1분) · 완료 { $count_fmt }건
sync-last-error = 마지막 오류
sync-batches = 일괄 변경
sync-col-batch = 일괄 작업
sync-col-progress = 진행
sync-col-done = 완료
sync-col-total = 전체
sync-nothing-failed = 실패한 작업이 없습니다.
sync-retry-all = 실패한 작업 모두 다시 시도
sync-retry = 다시 시도
sync-col-operation = 작업
sync-col-attempts = 시도 횟수
sync-col-litellm-said = LiteLLM 응답
reconcile-title = 대조
reconcile-heading = mama와 LiteLLM 비교
reconcile-back = 동기화로 돌아가기
reconcile-error = LiteLLM을 읽을 수 없습니다:
reconcile-summary = 사용자 { $checked_fmt }명 확인: 일치 { $in_sync_fmt }명, 불일치 { $drift_fmt }명, 동기화 진행 중 { $pending_fmt }명. mama가 모르는 LiteLLM 키 { $unknown_fmt }개.
reconcile-repair = 사용자 { $count_fmt }명 복구
reconcile-col-differs = 다른 점
reconcile-col-detail = 상세
reconcile-col-hash = 해시
reconcile-col-alias = 별칭
reconcile-col-by-mama = mama가 만듦
reconcile-unknown-heading = mama가 모르는 LiteLLM 키
reconcile-never-deleted = mama는 이 키들을 삭제하지 않습니다.
reconcile-first-shown = { $count_fmt }개 중 처음 { $shown_fmt }개를 보여 줍니다.
reconcile-kind-missing = LiteLLM에 없음
reconcile-kind-models = 모델
reconcile-kind-alias = 별칭
reconcile-kind-metadata = 메타데이터
reconcile-kind-user-id = 사용자 ID
reconcile-kind-other = 기타

## 감사 기록
audit-title = 감사 기록
audit-export-csv = CSV 내보내기
audit-export-jsonl = JSON Lines 내보내기
audit-export-utc = 내보낸 파일의 시간은 RFC 3339 UTC 형식입니다.
audit-chain-intact = 체인 이상 없음
audit-chain-broken = 체인 손상
audit-last-verified = 마지막 검증 { $time }:
audit-checked = 이벤트 { $count_fmt }건 확인.
audit-first-bad = 처음 손상된 이벤트
audit-not-verified = 아직 검증 안 됨
audit-not-verified-long = 해시 체인을 아직 검증하지 않았습니다.
audit-verify = 지금 검증
audit-from = 시작 ({ $zone })
audit-until = 종료 ({ $zone })
audit-actor-placeholder = 사용자 이름 또는 API 클라이언트
audit-any-action = 모든 작업
audit-all-group = { $group }.* 전체
audit-any-outcome = 모든 결과
audit-filter = 필터
audit-reset = 초기화
audit-col-time = 시간 ({ $zone })
audit-col-status = 상태
audit-col-targets = 대상
audit-col-request = 요청
audit-empty = 이 필터에 맞는 이벤트가 없습니다.
audit-newest = 최신 이벤트
audit-older = 이전 이벤트
audit-event-title = 감사 이벤트 #{ $id }
audit-back = 감사 기록으로 돌아가기
audit-all-such = 같은 작업 모두 보기
audit-none = 없음
audit-duration = 소요 시간
audit-client = 클라이언트
audit-chain = 체인
audit-not-sealed = 아직 봉인 안 됨
audit-changes = 변경 내용
audit-col-field = 항목
audit-col-before = 이전
audit-col-after = 이후
audit-details = 상세
outcome-success = 성공
outcome-denied = 거부
outcome-invalid = 잘못된 입력
outcome-error = 오류
outcome-unknown = 알 수 없음
actor-admin = 관리자
actor-api-client = API 클라이언트
actor-system = 시스템
actor-anonymous = 익명

## 오류 페이지
error-title-400 = 처리하지 못했습니다
error-title-403 = 허용되지 않음
error-title-404 = 페이지를 찾을 수 없음
error-title-429 = 요청이 너무 많음
error-title-500 = 문제가 발생했습니다
error-title-503 = 일시적으로 사용할 수 없음
error-forbidden = 이 작업을 할 권한이 없습니다.
error-csrf = 양식이 만료되었거나 이 사이트에서 온 것이 아닙니다. 페이지를 새로 고친 뒤 다시 시도하세요.
error-not-found = 이 주소에는 페이지가 없습니다.
error-conflict = 현재 상태와 충돌합니다. 페이지를 새로 고친 뒤 다시 시도하세요.
error-too-large = 요청이 너무 큽니다.
error-validation = 올바르지 않은 입력이 있습니다.
error-rate-limited = 요청이 너무 많습니다. 잠시 뒤 다시 시도하세요.
error-unavailable = 서비스를 일시적으로 사용할 수 없습니다. 아무것도 변경되지 않았습니다.
error-internal = 예상하지 못한 오류가 발생했습니다. 기록되었으니 신고할 때 요청 ID를 알려 주세요.
error-bad-request = 요청을 이해할 수 없습니다.
error-status = 상태 { $status }
error-request-id = 요청 ID
error-back = mama로 돌아가기
