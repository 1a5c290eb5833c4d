"""The offline plan: the Pulumi programs run under the SDK's mocks (:mod:`.offline`, :mod:`.program`,
:mod:`.stacks`), Helm charts and release manifests rendered (:mod:`.render`), custom resources read as the API
server stores them (:mod:`.crds`), the plan written and read back (:mod:`.plan`, :mod:`.planfiles`) and two plans
compared (:mod:`.compare`). It knows nothing of the operations commands (``urbanstack.ops``) or the command line."""
