-- Every contact: everyone in the contact export plus buyers missing from it (joined on the
-- lower-cased e-mail), with the consent we hold for them.
with contacts as (
    select * from {{ ref('stg_shop__contacts') }}
    where is_valid_email
),

customers as (
    select * from {{ ref('int_customers_summarized') }}
),

order_consent as (
    -- Consent recorded on the latest order, for buyers the contact export does not list.
    select email, consent_state_at_order, first_name, last_name
    from (
        select
            email, consent_state_at_order, first_name, last_name,
            row_number() over (partition by email order by ordered_at desc, order_id desc) as rn
        from {{ ref('stg_shopify__orders') }}
        where is_valid_email
    ) latest
    where rn = 1
),

final as (
    select
        coalesce(c.email, cu.email) as email,
        coalesce(c.customer_id, cu.customer_id) as customer_id,
        coalesce(c.first_name, oc.first_name) as first_name,
        coalesce(c.last_name, oc.last_name) as last_name,
        coalesce(c.consent_state, oc.consent_state_at_order, 'not_subscribed') as consent_state,
        c.consent_updated_at,
        c.signup_source,
        c.birthday,
        c.created_at as contact_created_at,
        cu.email is not null as is_customer
    from contacts c
    full outer join customers cu on cu.email = c.email
    left join order_consent oc on oc.email = coalesce(c.email, cu.email)
)

select * from final
